package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// targetLocation is where the spec says the tenant's documents belong. For
// Auto it is where they are (shared for a new organization): promotion is
// placeAuto's decision.
func (r *OrganizationReconciler) targetLocation(org *tenancyv1alpha1.Organization) mongostore.Location {
	shared := r.siteOf(org).shared
	switch org.Spec.Tenancy {
	case tenancyv1alpha1.TenancyShared:
		return mongostore.Location{Collection: shared, Organization: org.Name}
	case tenancyv1alpha1.TenancyAuto:
		if current, ok := currentLocation(org); ok {
			return current
		}
		return mongostore.Location{Collection: shared, Organization: org.Name}
	}
	return mongostore.Location{Collection: tenancyv1alpha1.DedicatedCollection(org.Name)}
}

// currentLocation is where status says the documents are; false for a new org.
func currentLocation(org *tenancyv1alpha1.Organization) (mongostore.Location, bool) {
	if org.Status.Collection == "" {
		return mongostore.Location{}, false
	}
	l := mongostore.Location{Collection: org.Status.Collection}
	if org.Status.DocumentFilter != "" {
		l.Organization = org.Name
	}
	return l, true
}

// setLocation records in status that the tenant's documents are at l on s.
func (r *OrganizationReconciler) setLocation(s *site, org *tenancyv1alpha1.Organization, l mongostore.Location) {
	org.Status.Backend = s.name
	org.Status.Database, org.Status.Collection, org.Status.DocumentFilter = s.store.Database(), l.Collection, documentFilter(l)
}

// documentFilter is the query filter that scopes a location to its tenant.
func documentFilter(l mongostore.Location) string {
	if !l.Shared() {
		return ""
	}
	b, _ := json.Marshal(map[string]string{mongostore.TenantField: l.Organization})
	return string(b)
}

// reconcileCollection puts the tenant's documents where the spec says: it
// creates the location of a new organization (within the dedicated-collection
// budget), moves the documents when spec.tenancy or spec.backend changed or a rename is
// pending (finishing a move in flight first, then moving again if the spec
// changed meanwhile), and recreates a dedicated collection dropped out of band. An
// organization another one was renamed from is left alone: its data belongs
// to the new one.
func (r *OrganizationReconciler) reconcileCollection(ctx context.Context, t *tenant) error {
	org := t.org
	if heir, err := r.renamedTo(ctx, org); err != nil || heir != nil {
		if err != nil {
			return err
		}
		return stalled(tenancyv1alpha1.ReasonRenamed, "organization %s took over this organization's data (spec.renamedFrom); delete this Organization", heir.Name)
	}
	if org.Spec.RenamedFrom != "" && org.Status.RenamedFrom == "" {
		return r.reconcileRename(ctx, t)
	}
	if org.Status.Migration != nil {
		// A move is finished first, whatever the spec says now; the spec
		// may have changed since it started (reversed while it ran), so the
		// result is compared with the target below like any location:
		// returning here would mark the new generation Ready in the place
		// the previous one asked for.
		if err := r.runMigration(ctx, t); err != nil {
			return err
		}
	}
	target := r.targetLocation(org)
	current, exists := currentLocation(org)
	if org.Spec.Tenancy == tenancyv1alpha1.TenancyAuto {
		target = r.placeAuto(ctx, t, current, exists)
	}
	if dest := r.destination(org); exists && dest.name != r.siteOf(org).name {
		if target.Shared() {
			target.Collection = dest.shared
		}
		return r.startMove(ctx, t, current, siteLocation{site: dest, loc: target}, tenancyv1alpha1.MigrationCopy)
	}
	if exists && current != target {
		return r.startMigration(ctx, t, current, target, tenancyv1alpha1.MigrationCopy)
	}
	return r.ensureLocation(ctx, t, target, !exists)
}

// ensureLocation creates the location when missing. A new dedicated
// collection must fit the budget; an existing organization's collection
// dropped out of band is recreated regardless (with a Warning event). A
// location the observation shows in place (and, for a shared collection,
// whose index this process made sure of) costs no MongoDB call; so does, after
// its ledger claim, a new tenant of such a shared collection.
func (r *OrganizationReconciler) ensureLocation(ctx context.Context, t *tenant, l mongostore.Location, isNew bool) error {
	s := r.siteOf(t.org)
	exists, known := s.observed.collection(l.Collection)
	inPlace := exists && (!l.Shared() || s.sharedIndexed(l.Collection))
	if !isNew && inPlace {
		r.setLocation(s, t.org, l)
		return nil
	}
	if isNew {
		if err := r.checkBudget(s, t.org, l); err != nil {
			return err
		}
		if err := r.claimLocation(ctx, s, t.org, l); err != nil {
			s.budget.release(t.org.Name)
			return err
		}
		if inPlace && l.Shared() {
			r.setLocation(s, t.org, l)
			return nil
		}
	}
	ensure := s.store.EnsureLocation
	if known && !exists {
		ensure = s.store.CreateLocation
	}
	created, err := ensure(ctx, l)
	if err != nil {
		return classifyMongo(err)
	}
	switch {
	case created && !isNew && !l.Shared():
		r.event(t.org, corev1.EventTypeWarning, EventCollectionRecreated, actionCreate,
			"Collection %s.%s was missing and has been recreated empty", s.store.Database(), l.Collection)
	case created && !t.wasReady:
		t.provisioned = append(t.provisioned, fmt.Sprintf("created collection %s.%s", s.store.Database(), l.Collection))
	case created:
		r.event(t.org, corev1.EventTypeNormal, EventCollectionCreated, actionCreate,
			"Created collection %s.%s", s.store.Database(), l.Collection)
	}
	if l.Shared() {
		s.sharedIndexes.Store(l.Collection, true)
	}
	r.setLocation(s, t.org, l)
	return nil
}

// sharedIndexed reports whether this process made sure of the shared
// collection's tenant index on the site (EnsureLocation does, once per
// process and connection).
func (s *site) sharedIndexed(collection string) bool {
	_, ok := s.sharedIndexes.Load(collection)
	return ok
}

// checkBudget stalls a new dedicated collection beyond
// --max-dedicated-collections, counted from the cluster (collectionBudget):
// no MongoDB call. A shared location gives back a reservation the
// organization no longer needs.
func (r *OrganizationReconciler) checkBudget(s *site, org *tenancyv1alpha1.Organization, l mongostore.Location) error {
	if l.Shared() {
		s.budget.release(org.Name)
		return nil
	}
	if !s.budget.counting() {
		if err := s.observed.storeUnavailable(); err != nil {
			return classifyMongo(err) // the first observation waits for MongoDB
		}
		return &waitingError{Reason: tenancyv1alpha1.ReasonProgressing,
			Err: errors.New("waiting for the first observation of MongoDB: the dedicated-collection budget counts retained collections")}
	}
	granted, used := s.budget.reserve(org.Name)
	if granted {
		return nil
	}
	return stalled(tenancyv1alpha1.ReasonCollectionBudgetExceeded,
		"%d dedicated collections are in use (%d of them retained from deleted organizations), the budget of --max-dedicated-collections; "+
			"use spec.tenancy: Shared for this organization, or raise the budget (or release retained data: see `manager audit`)",
		used, s.budget.retainedCount())
}
