package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// DedicatedCollection is the collection of a Dedicated organization.
func DedicatedCollection(organization string) string {
	return "org_" + organization
}

// reconcileCollection makes sure the tenant's dedicated collection exists and
// records it in status. A collection dropped out of band is recreated (empty)
// with a Warning event. Shared tenancy is not implemented yet: such an
// Organization is stalled with TenancyNotSupported.
func (r *OrganizationReconciler) reconcileCollection(ctx context.Context, t *tenant) error {
	org := t.org
	if org.Spec.Tenancy == tenancyv1alpha1.TenancyShared {
		return stalled(ReasonTenancyNotSupported,
			"spec.tenancy Shared is not supported by this version of the operator yet; use Dedicated")
	}
	name := DedicatedCollection(org.Name)
	created, err := r.Store.EnsureCollection(ctx, name)
	if err != nil {
		return classifyMongo(err)
	}
	if created {
		if org.Status.Collection == name {
			r.event(org, corev1.EventTypeWarning, EventCollectionRecreated, actionCreate,
				"Collection %s.%s was missing and has been recreated empty", r.Store.Database(), name)
		} else {
			r.event(org, corev1.EventTypeNormal, EventCollectionCreated, actionCreate,
				"Created collection %s.%s", r.Store.Database(), name)
		}
	}
	org.Status.Database, org.Status.Collection = r.Store.Database(), name
	return nil
}
