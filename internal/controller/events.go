package controller

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Event reasons. Events about an Organization are recorded in the namespace
// "default" (the apiserver's rule for cluster-scoped objects); their notes name
// collections and Secrets but never a password or hash.
const (
	// EventProvisioned is the one Normal event of a new organization: what
	// its reconcile created (collection, credentials Secret, admin account).
	EventProvisioned            = "Provisioned"
	EventCollectionCreated      = "CollectionCreated"
	EventCollectionRecreated    = "CollectionRecreated"
	EventCollectionDropped      = "CollectionDropped"
	EventCredentialsGenerated   = "CredentialsGenerated"
	EventCredentialsRegenerated = "CredentialsRegenerated"
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

// stepAdminCreated marks an admin record created from nothing: a step of
// the Provisioned event, or an AdminRecreated Warning for a Ready organization.
const stepAdminCreated = "AdminCreated"

// Event actions (events.k8s.io/v1 "action": what the controller did).
const (
	actionCreate = "Create"
	actionUpdate = "Update"
	actionDelete = "Delete"
	actionBlock  = "Block"
)

// reportProvisioned records one Normal Provisioned event listing what this
// reconcile created for a new organization, instead of one event per step
// (every event is an apiserver write and a watch fan-out). Nothing created,
// no event. Repairs of a Ready organization keep their Warning events.
func (r *OrganizationReconciler) reportProvisioned(t *tenant) {
	if len(t.provisioned) == 0 {
		return
	}
	r.event(t.org, corev1.EventTypeNormal, EventProvisioned, actionCreate, "%s", provisionedNote(t.provisioned))
}

// provisionedNote joins steps into one sentence: "Created a, b and c".
func provisionedNote(steps []string) string {
	note := steps[0]
	if len(steps) > 1 {
		note = strings.Join(steps[:len(steps)-1], ", ") + " and " + steps[len(steps)-1]
	}
	return strings.ToUpper(note[:1]) + note[1:]
}
