package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// reconcileDelete cleans up an Organization being deleted and then releases
// its finalizer. Retain (the default) removes only the admin record: the
// collection and every document in it stay. Delete also drops the dedicated
// collection. The credentials Secrets the Organization controls are deleted
// (their owner references would have the garbage collector do the same). While MongoDB is
// unreachable the finalizer stays, a DeletionBlocked event says why, and
// the step is retried with backoff: nothing is lost.
// It reports whether the finalizer was released.
func (r *OrganizationReconciler) reconcileDelete(ctx context.Context, t *tenant) (released bool, err error) {
	org := t.org
	if !controllerutil.ContainsFinalizer(org, tenancyv1alpha1.Finalizer) {
		return false, nil
	}
	handedOver, err := r.renameHandover(ctx, org)
	if err != nil {
		r.event(org, corev1.EventTypeWarning, EventDeletionBlocked, actionBlock, "Finalizer kept: %v", err)
		return false, err
	}
	if handedOver {
		// The data now belongs to the organization renamed from this one:
		// release without touching it, whatever the deletionPolicy.
		return r.releaseFinalizer(ctx, org)
	}
	if err := r.deleteTenantData(ctx, org); err != nil {
		err = classifyMongo(err)
		r.event(org, corev1.EventTypeWarning, EventDeletionBlocked, actionBlock,
			"Finalizer kept until MongoDB clean-up succeeds (deletionPolicy %s): %v", org.Spec.DeletionPolicy, err)
		return false, err
	}
	return r.releaseFinalizer(ctx, org)
}

// releaseFinalizer drops the organization's application-access roles,
// deletes the Secrets the organization controls and removes its finalizer.
func (r *OrganizationReconciler) releaseFinalizer(ctx context.Context, org *tenancyv1alpha1.Organization) (bool, error) {
	if err := r.Access.DropRoles(ctx, org.Name); err != nil {
		return false, classifyMongo(err)
	}
	if err := r.deleteOwnedSecrets(ctx, org); err != nil {
		return false, err
	}
	base := org.DeepCopy()
	controllerutil.RemoveFinalizer(org, tenancyv1alpha1.Finalizer)
	if err := r.Patch(ctx, org, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return true, nil
}

// renameHandover reports whether another organization has taken over this
// one's data (spec.renamedFrom). While a claimant has not finished, or
// several claim it, deletion waits: the data being moved is never dropped.
func (r *OrganizationReconciler) renameHandover(ctx context.Context, org *tenancyv1alpha1.Organization) (bool, error) {
	heirs, err := r.heirs(ctx, org)
	if err != nil || len(heirs) == 0 {
		return false, err
	}
	if len(heirs) == 1 && heirs[0].Status.RenamedFrom == org.Name {
		return true, nil
	}
	return false, &waitingError{Reason: tenancyv1alpha1.ReasonRenameInProgress,
		Err: fmt.Errorf("organization %s is taking over this organization's data; deletion waits for the move", heirs[0].Name)}
}

// deleteTenantData removes the admin record and then, at every place the
// tenant's documents may be (both ends of an unfinished move included; in a
// shared collection only this tenant's) that the ownership ledger says this
// organization owns: with deletionPolicy Delete drops the documents and the
// entry, with Retain marks the entry retained (so that only an explicit
// adoption gives the data to another Organization). Data the ledger says
// belongs to someone else (another cluster, a retained tenant this
// organization never adopted) is never touched.
func (r *OrganizationReconciler) deleteTenantData(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	removed, err := r.Store.DeleteAdmin(ctx, org.Name) // the admin records live on the default site
	if err != nil {
		return err
	}
	if removed {
		r.event(org, corev1.EventTypeNormal, EventAdminRemoved, actionDelete, "Removed the admin account")
	}
	for _, at := range r.tenantLocations(org) {
		s, l := at.site, at.loc
		owned, entry, err := r.owns(ctx, s, org, l)
		switch {
		case err != nil:
			return err
		case !owned && entry != nil && entry.Cluster != r.ClusterID:
			r.event(org, corev1.EventTypeWarning, EventDataKept, actionDelete,
				"Left %s alone: the ownership ledger says cluster %s owns it", l, entry.Cluster)
		case !owned:
		case org.Spec.DeletionPolicy == tenancyv1alpha1.DeletionPolicyDelete:
			if err := r.dropTenantData(ctx, s, org, l); err != nil {
				return err
			}
		case org.SignedUp():
			if err := r.retainUnlessEmpty(ctx, s, org, l, entry); err != nil {
				return err
			}
		default:
			if err := r.retainTenantData(ctx, s, org, l, entry); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropTenantData drops the tenant's documents at l and forgets the location.
func (r *OrganizationReconciler) dropTenantData(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location) error {
	n, err := s.store.RemoveTenant(ctx, l)
	if err != nil {
		return err
	}
	switch {
	case n < 0:
		r.event(org, corev1.EventTypeNormal, EventCollectionDropped, actionDelete,
			"Dropped collection %s.%s (deletionPolicy Delete)", s.store.Database(), l.Collection)
	case n > 0:
		r.event(org, corev1.EventTypeNormal, EventCollectionDropped, actionDelete,
			"Deleted the tenant's %d documents from %s.%s (deletionPolicy Delete)", n, s.store.Database(), l.Collection)
	}
	return s.store.ReleaseLocation(ctx, l, r.ClusterID)
}

// retainUnlessEmpty retains a sign-up organization's data at l, unless
// there is none: then the empty place (a dedicated collection, or the
// tenant's share of the shared collection) is released, so that signing
// up and deleting in a loop leaves nothing behind in MongoDB. (Documents
// written at the very moment of the deletion, between the count and the
// drop, would go with it; the organization's tokens end before the
// deletion.)
func (r *OrganizationReconciler) retainUnlessEmpty(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location,
	entry *mongostore.LedgerEntry) error {
	n, err := s.store.CountTenant(ctx, l)
	if err != nil || n > 0 {
		if err != nil {
			return err
		}
		return r.retainTenantData(ctx, s, org, l, entry)
	}
	dropped, err := s.store.RemoveTenant(ctx, l)
	if err != nil {
		return err
	}
	if dropped < 0 {
		r.event(org, corev1.EventTypeNormal, EventCollectionDropped, actionDelete,
			"Dropped the empty collection %s.%s: an organization created by sign-up leaves nothing to retain", s.store.Database(), l.Collection)
	}
	return s.store.ReleaseLocation(ctx, l, r.ClusterID)
}

// retainTenantData marks the tenant's entry at l retained; an organization
// placed before the ledger gets a retained entry.
func (r *OrganizationReconciler) retainTenantData(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location,
	entry *mongostore.LedgerEntry) error {
	now := time.Now()
	if entry != nil {
		if entry.State == mongostore.LedgerRetained {
			return nil
		}
		return s.store.RetainLocation(ctx, l, entry.UID, r.ClusterID, now)
	}
	e := mongostore.NewLedgerEntry(l, org.Name, string(org.UID), r.ClusterID, now)
	e.State, e.RetainedAt = mongostore.LedgerRetained, &now
	err := s.store.ClaimLocation(ctx, e)
	if errors.Is(err, mongostore.ErrLocationClaimed) {
		return fmt.Errorf("the ownership ledger changed for %s; retried: %w", l, err)
	}
	return err
}

// tenantLocations lists every place the tenant's documents may be: the
// current location, both ends of a move, and the spec's target; none for an
// organization that names a backend that is not connected and was never
// placed (placement comes before any write).
func (r *OrganizationReconciler) tenantLocations(org *tenancyv1alpha1.Organization) []siteLocation {
	if org.Status.Backend == "" && org.Status.Collection == "" && org.Spec.Backend != "" {
		if _, connected := r.sites.get(org.Spec.Backend); !connected {
			return nil // never placed on a backend that is not there: nothing was written
		}
	}
	var out []siteLocation
	add := func(s *site, l mongostore.Location) {
		for _, o := range out {
			if o.loc == l && o.site.name == s.name {
				return
			}
		}
		out = append(out, siteLocation{site: s, loc: l})
	}
	here := r.siteOf(org)
	if l, ok := currentLocation(org); ok {
		add(here, l)
	}
	renaming := org.Spec.RenamedFrom != "" && org.Status.RenamedFrom == ""
	if m := org.Status.Migration; m != nil {
		if !renaming { // a rename's source is the old organization's data
			add(r.siteAt(org, m.Source), fromDocLocation(m.Source))
		}
		add(r.siteAt(org, m.Target), fromDocLocation(m.Target))
	}
	if renaming && org.Status.Collection == "" {
		return out // a rename that never started: the target holds nothing of ours
	}
	add(here, r.targetLocation(org))
	return out
}

// deleteOwnedSecrets deletes the credentials Secrets this Organization
// controls: <name>-admin, and a referenced Secret it owns (created at
// sign-up). A Secret someone else manages is never touched.
func (r *OrganizationReconciler) deleteOwnedSecrets(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	names := []string{tenancyv1alpha1.CredentialsSecretName(org.Name)}
	if referenced, _ := org.PasswordSource(); referenced != names[0] {
		names = append(names, referenced)
	}
	for _, name := range names {
		if err := r.deleteControlledSecret(ctx, org, name); err != nil {
			return err
		}
	}
	return nil
}
