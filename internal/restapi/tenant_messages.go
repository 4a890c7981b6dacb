package restapi

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// The controller's condition messages are written for the platform team
// (kubectl describe): they name other organizations, UIDs, document counts
// of retained tenants, Secrets and raw MongoDB errors. Tenants and anonymous
// sign-up callers see the condition's type, status and reason with one of
// the messages below instead, which say what happens and who acts, and
// nothing about anyone else.

// tenantMessages is the message shown for each reason.
// platformSettingsIncomplete is a tenant's message for a MongoBackend's problem.
const platformSettingsIncomplete = "The platform's database settings are incomplete; ask your platform team."

var tenantMessages = map[string]string{
	tenancyv1alpha1.ReasonSucceeded:   "The organization is ready.",
	tenancyv1alpha1.ReasonProgressing: "The organization is being set up.",
	tenancyv1alpha1.ReasonDeleting:    "The organization is being deleted.",
	tenancyv1alpha1.ReasonReconcileFailed: "A step of setting up the organization failed and is retried automatically; " +
		"the platform team sees the details.",
	tenancyv1alpha1.ReasonMongoUnavailable: "The database cannot be reached at the moment; the operator retries automatically.",
	tenancyv1alpha1.ReasonMigrating:        "The organization's documents are being moved; do not write documents until it is ready.",
	tenancyv1alpha1.ReasonRenameInProgress: "The organization's documents are being moved after a rename; this finishes by itself.",
	tenancyv1alpha1.ReasonRenamed:          "This organization was renamed: log in again to reach it under its new name.",
	tenancyv1alpha1.ReasonAdminEmailInUse:  "The admin email is used by another organization: choose another one.",
	tenancyv1alpha1.ReasonCollectionBudgetExceeded: "The platform has no room for another dedicated collection; " +
		"ask your platform team (a shared collection would fit).",
	tenancyv1alpha1.ReasonRetainedDataExists: "The organization's place in the database holds data it does not own; nothing was " +
		"touched. Your platform team decides what happens to it.",
	tenancyv1alpha1.ReasonOwnedByAnotherCluster: "The organization's place in the database belongs to another cluster; " +
		"ask your platform team.",
	tenancyv1alpha1.ReasonMigrationConflict: "Moving the organization's documents is blocked; nothing was lost. Your platform team has been told.",
	tenancyv1alpha1.ReasonRenameConflict:    "The rename is blocked; nothing was moved. Your platform team has been told.",
	tenancyv1alpha1.ReasonRenameTargetTaken: "The rename is blocked; nothing was moved. Your platform team has been told.",
	tenancyv1alpha1.ReasonPasswordSecretNotFound: "The admin credentials the platform provides are missing; " +
		"ask your platform team.",
	tenancyv1alpha1.ReasonPasswordSecretNotAllowed:  "The admin credentials the platform provides are not usable; ask your platform team.",
	tenancyv1alpha1.ReasonInvalidPasswordHash:       "The admin credentials the platform provides are not usable; ask your platform team.",
	tenancyv1alpha1.ReasonCredentialsSecretConflict: "The admin credentials cannot be written; ask your platform team.",
	tenancyv1alpha1.ReasonReconcileDisabled:         "The platform has paused changes to this organization.",
	tenancyv1alpha1.ReasonAccessNotAllowed:          "This organization does not allow applications of that namespace; ask your platform team.",
	tenancyv1alpha1.ReasonOrganizationNotFound:      "The organization this access names does not exist.",
	tenancyv1alpha1.ReasonOrganizationNotReady:      "The organization is being set up; the access follows.",
	tenancyv1alpha1.ReasonIsolationNotAvailable:     "The database cannot limit this access to the organization's documents; ask your platform team.",
	tenancyv1alpha1.ReasonRolesUnsupported:          "The database cannot limit application access as the platform requires; ask your platform team.",
	tenancyv1alpha1.ReasonUsersUnsupported:          "The database has no application users; ask your platform team.",
	tenancyv1alpha1.ReasonAccessDisabled:            "Application access is turned off by the platform.",
	tenancyv1alpha1.ReasonInvalidSecretTemplate:     "The access's Secret template is not valid; its owner must fix it.",
	tenancyv1alpha1.ReasonSecretConflict:            "The access's Secret name is taken by another Secret; its owner must choose another.",
	tenancyv1alpha1.ReasonBackendNotFound:           "The database deployment the platform chose for this organization does not exist; ask your platform team.",
	tenancyv1alpha1.ReasonBackendDeleting:           "The database deployment the platform chose for this organization is being retired; ask your platform team.",
	tenancyv1alpha1.ReasonNoBackendMatches:          "The organization waits for a database deployment to be available; this finishes by itself.",
	tenancyv1alpha1.ReasonBackendMoveUnsupported:    "Moving the organization to another database deployment is blocked; nothing was moved. Your platform team has been told.",
	// The reasons of MongoBackends, never an organization's; a tenant is
	// told nothing about the platform's deployments.
	tenancyv1alpha1.ReasonSecretNotFound:      platformSettingsIncomplete,
	tenancyv1alpha1.ReasonInvalidURI:          platformSettingsIncomplete,
	tenancyv1alpha1.ReasonDefaultConflict:     platformSettingsIncomplete,
	tenancyv1alpha1.ReasonTenantsRemain:       "The platform's database deployment is being retired; ask your platform team.",
	string(tenancyv1alpha1.MigrationCopying):  "The organization's documents are being copied to their new place.",
	string(tenancyv1alpha1.MigrationSwitched): "The organization's documents are in their new place; the old copy is being removed.",
}

// tenantMessage is the message a tenant sees for c: the one for its reason,
// else a generic one naming the reason (never the controller's message).
func tenantMessage(c metav1.Condition) string {
	if m, ok := tenantMessages[c.Reason]; ok {
		return m
	}
	return fmt.Sprintf("The organization is not ready (%s); your platform team sees the details.", c.Reason)
}
