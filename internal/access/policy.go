// Package access gives the applications of a tenant their own MongoDB users
// (OrganizationAccess): who may bind (the Organization's spec.access), the
// least-privilege custom roles that follow the tenant's location, the
// users and their rotation, and the connection Secrets written into the
// applications' namespaces. The Organization controller calls RoleSync to
// keep an organization's roles where its documents are; the
// OrganizationAccess controller here does the rest.
package access

import (
	"slices"
	"strings"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// The privilege actions of application roles, from MongoDB's documented
// privilege actions (https://www.mongodb.com/docs/manual/reference/privilege-actions/),
// each on one collection resource {db: <tenant database>, collection: <c>},
// never a database-wide or cluster resource:
//
//	find          read documents (find, aggregate, count, distinct)
//	listIndexes   list the collection's indexes (drivers and ORMs do)
//	collStats     the collection's statistics ($collStats, size checks)
//	changeStream  watch the collection's changes
//	insert        insert documents
//	update        update and replace documents
//	remove        delete documents
//	createIndex   create an index on the tenant's own collection
//	dropIndex     drop an index of the tenant's own collection
//
// Not granted, on purpose: dropCollection, renameCollectionSameDB,
// createCollection, collMod, convertToCapped (the collection's life is the
// operator's), listCollections and dbStats (database-wide: they would show
// other tenants' collection names), anything on admins, sessions, the
// ledger or system.* collections.
var (
	// readActions are a Read role's, and every role's while a move runs.
	readActions = []string{"changeStream", "collStats", "find", "listIndexes"}
	// writeActions are added for ReadWrite.
	writeActions = []string{"insert", "remove", "update"}
	// indexActions are added for ReadWrite on a dedicated collection only:
	// the shared collection's indexes serve every small tenant.
	indexActions = []string{"createIndex", "dropIndex"}
)

// Location is where an organization's documents are, as the role sees it.
type Location struct {
	// Collection is the collection of the tenant's documents.
	Collection string
	// Shared says the collection is the shared one (documents of several
	// tenants, told apart by the organization field).
	Shared bool
}

// Actions are the privilege actions a role of kind grants on loc; while
// the tenant's documents move (migrating) only readActions, so that no
// application write can be lost or duplicated by the copy.
func Actions(kind tenancyv1alpha1.AccessRole, loc Location, migrating bool) []string {
	actions := slices.Clone(readActions)
	if kind == tenancyv1alpha1.AccessReadWrite && !migrating {
		actions = append(actions, writeActions...)
		if !loc.Shared {
			actions = append(actions, indexActions...)
		}
	}
	slices.Sort(actions)
	return actions
}

// RoleName is the custom role of an organization for kind:
// oa.<organization>.read or oa.<organization>.readWrite.
func RoleName(organization string, kind tenancyv1alpha1.AccessRole) string {
	suffix := "readWrite"
	if kind == tenancyv1alpha1.AccessRead {
		suffix = "read"
	}
	return tenancyv1alpha1.AccessUserPrefix + organization + "." + suffix
}

// OrganizationPrefix starts the name of every user and role of an
// organization (oa.<organization>.).
func OrganizationPrefix(organization string) string {
	return tenancyv1alpha1.AccessUserPrefix + organization + "."
}

// Role is the custom role of kind for an organization whose documents are
// at loc.
func Role(organization string, kind tenancyv1alpha1.AccessRole, loc Location, migrating bool) mongostore.Role {
	return mongostore.Role{Name: RoleName(organization, kind),
		Privileges: []mongostore.Privilege{{Collection: loc.Collection, Actions: Actions(kind, loc, migrating)}}}
}

// Roles are the two custom roles (Read, ReadWrite) of an organization as
// its status places it: at status.collection, write actions withdrawn
// while status.migration is set. An organization without a location yet
// has none.
func Roles(org *tenancyv1alpha1.Organization) []mongostore.Role {
	if org.Status.Collection == "" {
		return nil
	}
	loc := Location{Collection: org.Status.Collection, Shared: org.Status.DocumentFilter != ""}
	migrating := org.Status.Migration != nil
	return []mongostore.Role{
		Role(org.Name, tenancyv1alpha1.AccessRead, loc, migrating),
		Role(org.Name, tenancyv1alpha1.AccessReadWrite, loc, migrating),
	}
}

// Slot is one of the two users an access alternates between.
type Slot string

const (
	SlotA Slot = "a"
	SlotB Slot = "b"
)

// UserName is the MongoDB user of an access in slot:
// oa.<organization>.<access UID>.<slot>.
func UserName(organization, uid string, slot Slot) string {
	return OrganizationPrefix(organization) + uid + "." + string(slot)
}

// OtherUser is the user of the other slot of the same access ("" when name
// is not an access user).
func OtherUser(name string) string {
	switch {
	case strings.HasSuffix(name, "."+string(SlotA)):
		return strings.TrimSuffix(name, string(SlotA)) + string(SlotB)
	case strings.HasSuffix(name, "."+string(SlotB)):
		return strings.TrimSuffix(name, string(SlotB)) + string(SlotA)
	}
	return ""
}

// ParseUserName splits an access user's name into organization, access
// UID and slot; ok is false for any other name.
func ParseUserName(name string) (organization, uid string, slot Slot, ok bool) {
	rest, found := strings.CutPrefix(name, tenancyv1alpha1.AccessUserPrefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || (parts[2] != string(SlotA) && parts[2] != string(SlotB)) {
		return "", "", "", false
	}
	return parts[0], parts[1], Slot(parts[2]), true
}
