package controller

import (
	"context"
	"errors"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// reconcileAccessRoles keeps the organization's application-access roles
// (internal/access) granting what its status says: its location, read-only
// while status.migration is set. Called before a move copies and after it
// switches, so MongoDB itself refuses application writes while documents
// move. Nothing is written for an organization that allows no namespace, or
// on a server without roles.
func (r *OrganizationReconciler) reconcileAccessRoles(ctx context.Context, t *tenant) error {
	if r.Access == nil {
		return nil
	}
	if b := t.org.BackendOf(); b != "" && b != tenancyv1alpha1.DefaultBackend {
		if t.org.Spec.Access != nil {
			return stalled(tenancyv1alpha1.ReasonRolesUnsupported,
				"application access (spec.access) is not supported yet for organizations on MongoBackend %s; remove spec.access or use backend %q",
				b, tenancyv1alpha1.DefaultBackend)
		}
		return nil
	}
	err := r.Access.SyncRoles(ctx, t.org)
	if errors.Is(err, mongostore.ErrRolesUnsupported) {
		return stalled(tenancyv1alpha1.ReasonRolesUnsupported, "%v", err)
	}
	return classifyMongo(err)
}
