package controller

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestSettledAndDrift(t *testing.T) {
	ready := readyNow
	if settled(unitOrg("a")) {
		t.Error("a new organization is settled")
	}
	if !settled(unitOrg("a", ready)) {
		t.Error("a Ready, current organization is not settled")
	}
	stale := unitOrg("a", ready)
	stale.Generation = 2
	if settled(stale) {
		t.Error("an organization with a newer generation is settled")
	}
	moving := unitOrg("a", ready, func(o *tenancyv1alpha1.Organization) { o.Status.Migration = &tenancyv1alpha1.MigrationStatus{} })
	if settled(moving) {
		t.Error("a moving organization is settled")
	}
}

// A new organization, with a current observation, costs its three writes
// (ledger entry, collection, admin record) and one count (is its collection
// really empty?): nothing that grows with the number of tenants.
func TestNewOrganizationCostsThreeWritesAndOneCount(t *testing.T) {
	store, db := newMemStore()
	org := unitOrg("fresh")
	r := newUnitReconciler(t, store, 0, org)
	obs, _ := store.Observe(context.Background(), unitShared)
	r.observed.set(obs) // a current observation: nothing of "fresh" exists
	calls := counting(store)
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Name: "fresh"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ClaimLocation": 1, "CountTenant": 1, "CreateLocation": 1, "CreateAdmin": 1}
	if !maps.Equal(calls, want) {
		t.Fatalf("store calls %v; want only %v", calls, want)
	}
	if _, ok := db.admins["fresh"]; !ok || db.collections["org_fresh"] == nil {
		t.Fatal("the tenant was not created")
	}
}

func TestWrongObservationFallsBackToReading(t *testing.T) {
	store, db := newMemStore()
	org := unitOrg("known")
	r := newUnitReconciler(t, store, 0, org)
	obs, _ := store.Observe(context.Background(), unitShared)
	r.observed.set(obs)                                                                                   // says: no admin record
	db.admins["known"] = mongostore.Admin{ID: "old", Organization: "known", Email: "admin@known.example"} // written behind its back
	req := reconcile.Request{NamespacedName: client.ObjectKey{Name: "known"}}
	if _, err := r.Reconcile(context.Background(), req); err == nil {
		t.Fatal("an insert over an existing record was not reported")
	}
	calls := counting(store)
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if calls["GetAdmin"] != 1 {
		t.Fatalf("store calls %v; the next reconcile must read the record it could not create", calls)
	}
	if got := db.admins["known"]; got.ID != "old" || got.CredentialsFingerprint == "" {
		t.Fatalf("admin record %+v; want the existing record updated in place", got)
	}
}

// TestUnitObservationIsSafeUnderConcurrentUse: reconciles amend the
// observation while the observer reads it (run with -race; `make test`
// does). A race here crashed the manager at 10,000 organizations.
func TestObservationIsSafeUnderConcurrentUse(t *testing.T) {
	store, db := newMemStore()
	orgs := make([]client.Object, 0, 50)
	for i := range 50 {
		name := fmt.Sprintf("o%02d", i)
		db.seed(dedicated(name), 1)
		db.admins[name] = mongostore.Admin{ID: name, Organization: name, Email: "admin@" + name + ".example"}
		orgs = append(orgs, unitOrg(name, atLocation(dedicated(name)), readyNow))
	}
	r := newUnitReconciler(t, store, 0, orgs...)
	events := make(chan event.GenericEvent, 100)
	o := &observer{r: r, period: time.Minute, events: events}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			for i := range 50 {
				name := fmt.Sprintf("o%02d", i)
				r.observed.recordAdmin(name, mongostore.AdminSummary{Email: "x@" + name})
				r.observed.recordCollection("org_" + name)
				r.observed.unsureLedger(dedicated(name))
				r.observed.absentAdmin(name)
			}
		}
	})
	wg.Go(func() {
		for range events { // drain
		}
	})
	for range 20 {
		o.pass(ctx, r.siteOf(unitOrg("o00")))
	}
	cancel()
	close(events)
	wg.Wait()
}

// A new Shared organization, once the observation shows the shared
// collection and this process has made sure of its tenant index, costs its
// ledger claim and its admin record: no listCollections per new tenant
// (208 ms each with 5,000 dedicated collections in the 100,000-tenant run).
func TestNewSharedOrganizationCostsTwoWrites(t *testing.T) {
	for _, tenancy := range []tenancyv1alpha1.Tenancy{tenancyv1alpha1.TenancyShared, tenancyv1alpha1.TenancyAuto} {
		t.Run(string(tenancy), func(t *testing.T) { newSharedCostsTwoWrites(t, tenancy) })
	}
}

func newSharedCostsTwoWrites(t *testing.T, tenancy tenancyv1alpha1.Tenancy) {
	store, _ := newMemStore()
	shared := func(o *tenancyv1alpha1.Organization) { o.Spec.Tenancy = tenancy }
	first, second := unitOrg("first", shared), unitOrg("second", shared)
	r := newUnitReconciler(t, store, 0, first, second)
	obs, _ := store.Observe(context.Background(), unitShared)
	r.observed.set(obs)
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Name: "first"}}); err != nil {
		t.Fatal(err) // creates the shared collection and its index
	}
	calls := counting(store)
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Name: "second"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ClaimLocation": 1, "CreateAdmin": 1}
	if !maps.Equal(calls, want) {
		t.Fatalf("store calls %v; want only %v", calls, want)
	}
	got := &tenancyv1alpha1.Organization{}
	if err := r.Get(context.Background(), client.ObjectKey{Name: "second"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Collection != unitShared || got.Status.DocumentFilter == "" {
		t.Fatalf("status %+v; want the shared collection with its filter", got.Status)
	}
}
