package controller

// Event reasons. Events about an Organization are recorded in the namespace
// "default" (the apiserver's rule for cluster-scoped objects); their notes name
// collections and Secrets but never a password or hash.
const (
	EventCollectionCreated      = "CollectionCreated"
	EventCollectionRecreated    = "CollectionRecreated"
	EventCollectionDropped      = "CollectionDropped"
	EventCredentialsGenerated   = "CredentialsGenerated"
	EventCredentialsRegenerated = "CredentialsRegenerated"
	EventAdminCreated           = "AdminCreated"
	EventAdminRecreated         = "AdminRecreated"
	EventAdminPasswordChanged   = "AdminPasswordChanged"
	EventAdminRemoved           = "AdminRemoved"
	EventDeletionBlocked        = "DeletionBlocked"
	EventMigrationStarted       = "MigrationStarted"
	EventMigrationCompleted     = "MigrationCompleted"
	EventRenamed                = "Renamed"
	EventDataKept               = "DataKept"
	EventPromoted               = "Promoted"
	EventPromotionDeferred      = "PromotionDeferred"
)

// Event actions (events.k8s.io/v1 "action": what the controller did).
const (
	actionCreate = "Create"
	actionUpdate = "Update"
	actionDelete = "Delete"
	actionBlock  = "Block"
)
