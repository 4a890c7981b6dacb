package mongostore

// Field names and update operators the store's queries share.
const (
	fieldID           = "_id"
	fieldOrganization = "organization"
	fieldEmail        = "email"
	fieldUpdatedAt    = "updatedAt"

	opSet         = "$set"
	opSetOnInsert = "$setOnInsert"
	opInc         = "$inc"
	opLt          = "$lt"
	opGte         = "$gte"
)
