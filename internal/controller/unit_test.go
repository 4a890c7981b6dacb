package controller

// Unit tests of the controller's branches with the fake store and
// controller-runtime's fake client: `go test ./internal/controller/ -run Unit`
// runs them without a control plane, in about a second. The envtest +
// FerretDB suite stays the proof against real servers.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
)

const unitShared = "shared_tenants"

var unitScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(tenancyv1alpha1.AddToScheme(s))
	return s
}()

// newUnitReconciler is a reconciler on the fake client (holding objs) and
// unitCluster is the unit reconciler's --cluster-id.
const unitCluster = "unit-cluster"

// the fake store; the budget allows maxDedicated collections (0: unlimited).
func newUnitReconciler(t *testing.T, store *fakeStore, maxDedicated int, objs ...client.Object) *OrganizationReconciler {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(unitScheme).
		WithStatusSubresource(&tenancyv1alpha1.Organization{}).
		WithIndex(&tenancyv1alpha1.Organization{}, renamedFromIndex, func(o client.Object) []string {
			if old := o.(*tenancyv1alpha1.Organization).Spec.RenamedFrom; old != "" {
				return []string{old}
			}
			return nil
		}).
		WithObjects(objs...).Build()
	observed := newObservation(time.Minute)
	budget := newCollectionBudget(maxDedicated)
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &OrganizationReconciler{
		metrics: m,
		Client:  c, APIReader: c, Scheme: unitScheme,
		Store:                &writeThrough{TenantStore: store, observed: observed, budget: budget},
		CredentialsNamespace: "creds",
		ClusterID:            unitCluster,
		HashParams:           password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		HashSlots:            password.NewSlots(2),
		SharedCollection:     unitShared,
		MigrationBatchSize:   2,
		budget:               budget,
		observed:             observed,
		selfWrites:           newSelfWrites(),
	}
}

func unitOrg(name string, mutate ...func(*tenancyv1alpha1.Organization)) *tenancyv1alpha1.Organization {
	o := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"},
			Tenancy: tenancyv1alpha1.TenancyDedicated}}
	for _, m := range mutate {
		m(o)
	}
	return o
}

func dedicated(name string) mongostore.Location {
	return mongostore.Location{Collection: "org_" + name}
}
func sharedLoc(name string) mongostore.Location {
	return mongostore.Location{Collection: unitShared, Organization: name}
}

func atLocation(l mongostore.Location) func(*tenancyv1alpha1.Organization) {
	return func(o *tenancyv1alpha1.Organization) {
		o.Status.Collection = l.Collection
		if l.Shared() {
			o.Status.DocumentFilter = documentFilter(l)
		}
	}
}

var errDown = errors.Join(mongostore.ErrUnavailable, errors.New("no reachable servers"))

func TestUnitRenameSource(t *testing.T) {
	tests := []struct {
		name      string
		old       *tenancyv1alpha1.Organization // nil: the old Organization is gone
		seed      map[mongostore.Location]int
		ledger    []mongostore.LedgerEntry
		adopt     string // the new organization's adopt-data annotation
		storeDown bool
		want      mongostore.Location
		wantFound bool
		wantErr   string // a reason
	}{
		{name: "old org present, dedicated with documents", old: unitOrg("old", atLocation(dedicated("old"))),
			seed: map[mongostore.Location]int{dedicated("old"): 3}, want: dedicated("old"), wantFound: true},
		{name: "old org present, empty dedicated collection is still its data", old: unitOrg("old", atLocation(dedicated("old"))),
			seed: map[mongostore.Location]int{dedicated("old"): 0}, want: dedicated("old"), wantFound: true},
		{name: "old org present, shared without documents: nothing to move", old: unitOrg("old", atLocation(sharedLoc("old"))),
			seed: map[mongostore.Location]int{sharedLoc("other"): 2}, want: sharedLoc("old"), wantFound: false},
		{name: "old org present, shared with documents", old: unitOrg("old", atLocation(sharedLoc("old"))),
			seed: map[mongostore.Location]int{sharedLoc("old"): 2}, want: sharedLoc("old"), wantFound: true},
		{name: "old org moving its documents: wait", old: unitOrg("old", atLocation(dedicated("old")), func(o *tenancyv1alpha1.Organization) {
			o.Status.Migration = &tenancyv1alpha1.MigrationStatus{Phase: tenancyv1alpha1.MigrationCopying}
		}), wantErr: tenancyv1alpha1.ReasonRenameInProgress},
		{name: "old org present but never placed: nothing to move, even where an earlier one kept data",
			old: unitOrg("old"), seed: map[mongostore.Location]int{dedicated("old"): 2},
			ledger: []mongostore.LedgerEntry{retainedEntry(dedicated("old"), "earlier-uid")}, wantFound: false},
		{name: "old org gone, its dedicated collection remains unowned: only with adopt-data=unowned",
			seed: map[mongostore.Location]int{dedicated("old"): 1}, wantErr: tenancyv1alpha1.ReasonRetainedDataExists},
		{name: "old org gone, its dedicated collection remains unowned, adopted", adopt: tenancyv1alpha1.AdoptUnowned,
			seed: map[mongostore.Location]int{dedicated("old"): 1}, want: dedicated("old"), wantFound: true},
		{name: "old org gone, its shared documents remain unowned, adopted", adopt: tenancyv1alpha1.AdoptUnowned,
			seed: map[mongostore.Location]int{sharedLoc("old"): 4}, want: sharedLoc("old"), wantFound: true},
		{name: "old org gone, its data retained: only with adopt-data=<its uid>", seed: map[mongostore.Location]int{dedicated("old"): 3},
			ledger: []mongostore.LedgerEntry{retainedEntry(dedicated("old"), "old-uid")}, wantErr: tenancyv1alpha1.ReasonRetainedDataExists},
		{name: "old org gone, its data retained and adopted", adopt: "old-uid", seed: map[mongostore.Location]int{dedicated("old"): 3},
			ledger: []mongostore.LedgerEntry{retainedEntry(dedicated("old"), "old-uid")}, want: dedicated("old"), wantFound: true},
		{name: "old org gone, its deletion never processed (active entry): taken over", seed: map[mongostore.Location]int{sharedLoc("old"): 2},
			ledger: []mongostore.LedgerEntry{mongostore.NewLedgerEntry(sharedLoc("old"), "old", "old-uid", unitCluster, time.Now())},
			want:   sharedLoc("old"), wantFound: true},
		{name: "old org gone, nothing left", want: sharedLoc("old"), wantFound: false},
		{name: "MongoDB unreachable", storeDown: true, wantErr: tenancyv1alpha1.ReasonMongoUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, db := newMemStore()
			for l, n := range tt.seed {
				db.seed(l, n)
			}
			for _, e := range tt.ledger {
				db.ledger[e.Key] = e
			}
			if tt.storeDown {
				store.CollectionExistsFn = func(context.Context, string) (bool, error) { return false, errDown }
			}
			var objs []client.Object
			if tt.old != nil {
				objs = append(objs, tt.old)
			}
			r := newUnitReconciler(t, store, 0, objs...)
			heir := unitOrg("new")
			heir.Spec.RenamedFrom = "old"
			if tt.adopt != "" {
				heir.Annotations = map[string]string{tenancyv1alpha1.AnnotationAdoptData: tt.adopt}
			}
			got, _, found, err := r.renameSource(context.Background(), heir)
			if tt.wantErr != "" {
				if reason := reasonOf(err); reason != tt.wantErr {
					t.Fatalf("err = %v (reason %q); want reason %q", err, reason, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found != tt.wantFound || (found && got != tt.want) {
				t.Fatalf("renameSource = %v, %v; want %v, %v", got, found, tt.want, tt.wantFound)
			}
		})
	}
}

// retainedEntry is the ledger entry of data the organization "old" (uid) kept at its deletion.
func retainedEntry(l mongostore.Location, uid string) mongostore.LedgerEntry {
	now := time.Now()
	e := mongostore.NewLedgerEntry(l, "old", uid, unitCluster, now)
	e.State, e.RetainedAt = mongostore.LedgerRetained, &now
	return e
}

// reasonOf is the condition reason an error leads to ("" for a plain error).
func reasonOf(err error) string {
	if se, ok := asStalling(err); ok {
		return se.reason
	}
	if we, ok := asWaiting(err); ok {
		return we.reason
	}
	return ""
}

func TestUnitBudget(t *testing.T) {
	holding := func(name string) *tenancyv1alpha1.Organization { return unitOrg(name, atLocation(dedicated(name))) }
	t.Run("counts holders from the cluster, reserves, refuses beyond the budget", func(t *testing.T) {
		b := newCollectionBudget(3)
		b.observe(holding("a"))
		b.observe(unitOrg("s", atLocation(sharedLoc("s")))) // shared: not counted
		b.observe(unitOrg("moving", atLocation(sharedLoc("moving")), func(o *tenancyv1alpha1.Organization) {
			o.Status.Migration = &tenancyv1alpha1.MigrationStatus{Target: toDocLocation(dedicated("moving"))}
		}))
		if got := b.used(); got != 2 {
			t.Fatalf("used = %d; want 2 (a holder and a move into a dedicated collection)", got)
		}
		if ok, _ := b.reserve("a"); !ok {
			t.Fatal("a holder was refused its own collection")
		}
		if ok, used := b.reserve("b"); !ok || used != 3 {
			t.Fatalf("reserve(b) = %v, %d; want granted, 3 used", ok, used)
		}
		if ok, _ := b.reserve("b"); !ok {
			t.Fatal("a reservation is not kept")
		}
		if ok, used := b.reserve("c"); ok || used != 3 {
			t.Fatalf("reserve(c) = %v, %d; want refused at 3", ok, used)
		}
		b.observe(holding("b")) // the reservation became a holder: still 3
		if b.used() != 3 {
			t.Fatalf("used = %d after b became a holder; want 3", b.used())
		}
		b.forget("a")
		if ok, _ := b.reserve("c"); !ok {
			t.Fatal("a slot freed by a deletion was not granted")
		}
		b.release("c")
		if b.used() != 2 {
			t.Fatalf("used = %d after a release; want 2", b.used())
		}
	})
	t.Run("retained collections of deleted organizations count until released or adopted", func(t *testing.T) {
		now := time.Now()
		retained := func(l mongostore.Location, cluster string) mongostore.LedgerEntry {
			e := mongostore.NewLedgerEntry(l, "gone", "gone-uid", cluster, now)
			e.State, e.RetainedAt = mongostore.LedgerRetained, &now
			return e
		}
		ledger := map[string]mongostore.LedgerEntry{}
		for _, e := range []mongostore.LedgerEntry{
			retained(dedicated("gone1"), unitCluster), retained(dedicated("gone2"), unitCluster),
			retained(sharedLoc("gone3"), unitCluster),                                          // shared: no collection of its own
			retained(dedicated("theirs"), "other-cluster"),                                     // another cluster's budget
			mongostore.NewLedgerEntry(dedicated("live"), "live", "live-uid", unitCluster, now), // active: counted as a holder
		} {
			ledger[e.Key] = e
		}
		collections := map[string]bool{}
		for _, e := range ledger {
			collections[e.Collection] = true
		}
		dropped := retained(dedicated("gone-and-dropped"), unitCluster) // its collection was dropped by hand
		ledger[dropped.Key] = dropped
		b := newCollectionBudget(3)
		b.setRetained(&mongostore.Observation{Ledger: ledger, Collections: collections}, unitCluster)
		b.observe(holding("live"))
		if got := b.used(); got != 3 {
			t.Fatalf("used = %d; want 3 (one holder, two retained)", got)
		}
		if ok, _ := b.reserve("new"); ok {
			t.Fatal("a new dedicated collection was granted while retained data fills the budget")
		}
		b.markRetained(dedicated("gone1").Collection, false) // released (or adopted)
		if ok, _ := b.reserve("new"); !ok {
			t.Fatal("a slot freed by releasing retained data was not granted")
		}
		b.markRetained(dedicated("gone2").Collection, false)
		b.observe(holding("gone2")) // adopted: a holder, counted once
		b.markRetained(dedicated("gone2").Collection, true)
		if got := b.used(); got != 3 {
			t.Fatalf("used = %d; want 3 (live, new, gone2 counted once)", got)
		}
	})
	t.Run("unlimited", func(t *testing.T) {
		b := newCollectionBudget(0)
		for _, n := range []string{"a", "b", "c"} {
			if ok, _ := b.reserve(n); !ok {
				t.Fatalf("reserve(%s) refused with no budget", n)
			}
		}
	})
	t.Run("a new dedicated organization beyond the budget stalls, a shared one gives its reservation back", func(t *testing.T) {
		store, _ := newMemStore()
		r := newUnitReconciler(t, store, 1)
		if _, ok := asWaiting(r.checkBudget(unitOrg("early"), dedicated("early"))); !ok {
			t.Fatal("a budget that does not know the retained collections yet granted a slot")
		}
		r.budget.setRetained(&mongostore.Observation{}, unitCluster) // the first observation: nothing retained
		r.budget.observe(holding("full"))
		err := r.checkBudget(unitOrg("late"), dedicated("late"))
		if reasonOf(err) != tenancyv1alpha1.ReasonCollectionBudgetExceeded {
			t.Fatalf("err = %v; want CollectionBudgetExceeded", err)
		}
		r.budget.forget("full")
		if err := r.checkBudget(unitOrg("late"), dedicated("late")); err != nil {
			t.Fatal(err)
		}
		if err := r.checkBudget(unitOrg("late"), sharedLoc("late")); err != nil || r.budget.used() != 0 {
			t.Fatalf("err %v, used %d; want the reservation released", err, r.budget.used())
		}
	})
}

func TestUnitTenantLocations(t *testing.T) {
	migration := func(src, dst mongostore.Location) func(*tenancyv1alpha1.Organization) {
		return func(o *tenancyv1alpha1.Organization) {
			o.Status.Migration = &tenancyv1alpha1.MigrationStatus{Source: toDocLocation(src), Target: toDocLocation(dst)}
		}
	}
	renamed := func(o *tenancyv1alpha1.Organization) { o.Spec.RenamedFrom = "old" }
	shared := func(o *tenancyv1alpha1.Organization) { o.Spec.Tenancy = tenancyv1alpha1.TenancyShared }
	tests := []struct {
		name string
		org  *tenancyv1alpha1.Organization
		want []mongostore.Location
	}{
		{"new organization: its target", unitOrg("a"), []mongostore.Location{dedicated("a")}},
		{"settled dedicated", unitOrg("a", atLocation(dedicated("a"))), []mongostore.Location{dedicated("a")}},
		{"settled shared", unitOrg("a", shared, atLocation(sharedLoc("a"))), []mongostore.Location{sharedLoc("a")}},
		{"spec switched, move not started: current and target",
			unitOrg("a", shared, atLocation(dedicated("a"))), []mongostore.Location{dedicated("a"), sharedLoc("a")}},
		{"move under way: both ends",
			unitOrg("a", shared, atLocation(dedicated("a")), migration(dedicated("a"), sharedLoc("a"))),
			[]mongostore.Location{dedicated("a"), sharedLoc("a")}},
		{"move reversed in flight: current, both ends and the new target",
			unitOrg("a", atLocation(sharedLoc("a")), migration(dedicated("a"), sharedLoc("a"))),
			[]mongostore.Location{sharedLoc("a"), dedicated("a")}},
		{"rename never started: nothing of ours", unitOrg("a", renamed), nil},
		{"rename under way: the target only, never the old organization's data",
			unitOrg("a", renamed, migration(dedicated("old"), dedicated("a"))), []mongostore.Location{dedicated("a")}},
		{"rename done: like any organization",
			unitOrg("a", renamed, atLocation(dedicated("a")), func(o *tenancyv1alpha1.Organization) { o.Status.RenamedFrom = "old" }),
			[]mongostore.Location{dedicated("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newMemStore()
			r := newUnitReconciler(t, store, 0)
			if got := r.tenantLocations(tt.org); !slices.Equal(got, tt.want) {
				t.Fatalf("tenantLocations = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestUnitMigrationResume(t *testing.T) {
	const docs = 5
	type state struct {
		phase     tenancyv1alpha1.MigrationPhase
		method    tenancyv1alpha1.MigrationMethod
		copied    int // documents already at the target
		srcGone   bool
		srcSeeded bool
	}
	tests := []struct {
		name     string
		src, dst mongostore.Location
		start    state
	}{
		{"copy interrupted after a batch", dedicated("a"), sharedLoc("a"),
			state{phase: tenancyv1alpha1.MigrationCopying, method: tenancyv1alpha1.MigrationCopy, copied: 2, srcSeeded: true}},
		{"copy finished, not yet switched", dedicated("a"), sharedLoc("a"),
			state{phase: tenancyv1alpha1.MigrationCopying, method: tenancyv1alpha1.MigrationCopy, copied: docs, srcSeeded: true}},
		{"switched, source still there", sharedLoc("a"), dedicated("a"),
			state{phase: tenancyv1alpha1.MigrationSwitched, method: tenancyv1alpha1.MigrationCopy, copied: docs, srcSeeded: true}},
		{"switched, source already removed", dedicated("a"), sharedLoc("a"),
			state{phase: tenancyv1alpha1.MigrationSwitched, method: tenancyv1alpha1.MigrationCopy, copied: docs, srcGone: true}},
		{"collection rename not done yet", dedicated("old"), dedicated("a"),
			state{phase: tenancyv1alpha1.MigrationCopying, method: tenancyv1alpha1.MigrationRenameCollection, srcSeeded: true}},
		{"collection rename done, status not switched", dedicated("old"), dedicated("a"),
			state{phase: tenancyv1alpha1.MigrationCopying, method: tenancyv1alpha1.MigrationRenameCollection, copied: docs, srcGone: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The tenant's documents (ids as the source holds them), some of
			// them already at the target, the source possibly gone.
			want := seededIDs(tt.src, docs)
			store, db := newMemStore()
			if tt.start.srcSeeded {
				db.seed(tt.src, docs)
			}
			if tt.start.copied > 0 && db.collections[tt.dst.Collection] == nil {
				db.collections[tt.dst.Collection] = map[string]string{}
			}
			for _, id := range want[:tt.start.copied] {
				db.collections[tt.dst.Collection][id] = tt.dst.Organization
			}
			org := unitOrg("a", atLocation(tt.src), func(o *tenancyv1alpha1.Organization) {
				o.Status.Migration = &tenancyv1alpha1.MigrationStatus{Source: toDocLocation(tt.src), Target: toDocLocation(tt.dst),
					Phase: tt.start.phase, Method: tt.start.method, Copied: int64(tt.start.copied), Total: docs}
				if tt.start.phase == tenancyv1alpha1.MigrationSwitched {
					atLocation(tt.dst)(o)
				}
			})
			r := newUnitReconciler(t, store, 0, org)
			// The regression of issue 13: the source may only be removed
			// once the switch is recorded in the stored status.
			removeTenant := store.RemoveTenantFn
			store.RemoveTenantFn = func(ctx context.Context, l mongostore.Location) (int64, error) {
				stored := &tenancyv1alpha1.Organization{}
				if err := r.Get(ctx, client.ObjectKey{Name: "a"}, stored); err != nil {
					t.Fatal(err)
				}
				if m := stored.Status.Migration; m == nil || m.Phase != tenancyv1alpha1.MigrationSwitched || stored.Status.Collection != tt.dst.Collection {
					t.Fatalf("removing %s while the stored status says %+v at %s", l, m, stored.Status.Collection)
				}
				return removeTenant(ctx, l)
			}
			tn := &tenant{org: org, persisted: org.Status.DeepCopy()}
			if err := r.runMigration(context.Background(), tn); err != nil {
				t.Fatal(err)
			}
			if got := db.ids(tt.dst); !slices.Equal(got, want) {
				t.Fatalf("target holds %v; want %v", got, want)
			}
			if n := len(db.ids(tt.src)); n != 0 && tt.src.Collection != tt.dst.Collection {
				t.Fatalf("source still holds %d documents", n)
			}
			if tn.org.Status.Migration != nil || tn.org.Status.Collection != tt.dst.Collection {
				t.Fatalf("move not finished: %+v at %s", tn.org.Status.Migration, tn.org.Status.Collection)
			}
		})
	}
}

// seededIDs are the _id values memDB.seed gives n documents at l (a move
// keeps them, as the real copy does).
func seededIDs(l mongostore.Location, n int) []string {
	m := &memDB{collections: map[string]map[string]string{}}
	m.seed(l, n)
	return m.ids(l)
}

func TestUnitMigrationConflictStallsAndRemovesNothing(t *testing.T) {
	store, db := newMemStore()
	db.seed(dedicated("a"), 3)
	ids := db.ids(dedicated("a"))
	db.collections[unitShared] = map[string]string{ids[1]: "someone-else"}
	org := unitOrg("a", atLocation(dedicated("a")), func(o *tenancyv1alpha1.Organization) {
		o.Status.Migration = &tenancyv1alpha1.MigrationStatus{Source: toDocLocation(dedicated("a")), Target: toDocLocation(sharedLoc("a")),
			Phase: tenancyv1alpha1.MigrationCopying, Method: tenancyv1alpha1.MigrationCopy}
	})
	r := newUnitReconciler(t, store, 0, org)
	err := r.runMigration(context.Background(), &tenant{org: org, persisted: org.Status.DeepCopy()})
	if reasonOf(err) != tenancyv1alpha1.ReasonMigrationConflict {
		t.Fatalf("err = %v; want MigrationConflict", err)
	}
	if len(db.ids(dedicated("a"))) != 3 || db.collections[unitShared][ids[1]] != "someone-else" {
		t.Fatal("a conflicting move removed or overwrote documents")
	}
}

// readyNow makes an organization Ready for its generation.
func readyNow(o *tenancyv1alpha1.Organization) {
	o.Status.ObservedGeneration = o.Generation
	o.Status.Conditions = []metav1.Condition{{Type: tenancyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Succeeded"}}
}

func TestUnitSettledAndDrift(t *testing.T) {
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

// counting wraps the fake's functions to count calls by name.
func counting(f *fakeStore) map[string]int {
	calls := map[string]int{}
	exists, getAdmin, checkEmail := f.CollectionExistsFn, f.GetAdminFn, f.CheckEmailFreeFn
	createLoc, ensureLoc, createAdmin := f.CreateLocationFn, f.EnsureLocationFn, f.CreateAdminFn
	count, claim, getEntry := f.CountTenantFn, f.ClaimLocationFn, f.GetLedgerEntryFn
	f.CountTenantFn = func(ctx context.Context, l mongostore.Location) (int64, error) {
		calls["CountTenant"]++
		return count(ctx, l)
	}
	f.ClaimLocationFn = func(ctx context.Context, e mongostore.LedgerEntry) error {
		calls["ClaimLocation"]++
		return claim(ctx, e)
	}
	f.GetLedgerEntryFn = func(ctx context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error) {
		calls["GetLedgerEntry"]++
		return getEntry(ctx, l)
	}
	f.CollectionExistsFn = func(ctx context.Context, n string) (bool, error) { calls["CollectionExists"]++; return exists(ctx, n) }
	f.GetAdminFn = func(ctx context.Context, o string) (*mongostore.Admin, error) {
		calls["GetAdmin"]++
		return getAdmin(ctx, o)
	}
	f.CheckEmailFreeFn = func(ctx context.Context, e, o string) error { calls["CheckEmailFree"]++; return checkEmail(ctx, e, o) }
	f.CreateLocationFn = func(ctx context.Context, l mongostore.Location) (bool, error) {
		calls["CreateLocation"]++
		return createLoc(ctx, l)
	}
	f.EnsureLocationFn = func(ctx context.Context, l mongostore.Location) (bool, error) {
		calls["EnsureLocation"]++
		return ensureLoc(ctx, l)
	}
	f.CreateAdminFn = func(ctx context.Context, a mongostore.Admin) error {
		calls["CreateAdmin"]++
		return createAdmin(ctx, a)
	}
	return calls
}

// A new organization, with a current observation, costs its three writes
// (ledger entry, collection, admin record) and one count (is its collection
// really empty?): nothing that grows with the number of tenants.
func TestUnitNewOrganizationCostsThreeWritesAndOneCount(t *testing.T) {
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

func TestUnitWrongObservationFallsBackToReading(t *testing.T) {
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
func TestUnitObservationIsSafeUnderConcurrentUse(t *testing.T) {
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
		o.pass(ctx)
	}
	cancel()
	close(events)
	wg.Wait()
}

// A reconcile working from a stale copy (the cache had not caught up) cannot
// overwrite a newer status: the write carries the resourceVersion it read.
func TestUnitStaleStatusWriteIsRefused(t *testing.T) {
	org := unitOrg("a", atLocation(dedicated("a")))
	r := newUnitReconciler(t, &fakeStore{}, 0, org)
	ctx := context.Background()
	stale := &tenancyv1alpha1.Organization{}
	if err := r.Get(ctx, client.ObjectKey{Name: "a"}, stale); err != nil {
		t.Fatal(err)
	}
	current := stale.DeepCopy()
	current.Status.Collection = "org_moved_on"
	if err := r.Status().Update(ctx, current); err != nil {
		t.Fatal(err)
	}
	original := stale.Status.DeepCopy()
	stale.Status.Migration = &tenancyv1alpha1.MigrationStatus{Source: toDocLocation(dedicated("a")), Target: toDocLocation(sharedLoc("a")),
		Phase: tenancyv1alpha1.MigrationCopying, Method: tenancyv1alpha1.MigrationCopy}
	if err := r.patchStatus(ctx, stale, original); !apierrors.IsConflict(err) {
		t.Fatalf("stale status write: %v, want a conflict", err)
	}
	// The current copy writes, and keeps writing with the version it got back.
	fresh := current.DeepCopy()
	original = fresh.Status.DeepCopy()
	for _, n := range []int64{1, 2} {
		fresh.Status.Placement = &tenancyv1alpha1.PlacementStatus{Tenancy: tenancyv1alpha1.TenancyShared, Documents: n, Reason: "r"}
		if err := r.patchStatus(ctx, fresh, original); err != nil {
			t.Fatalf("write %d: %v", n, err)
		}
		original = fresh.Status.DeepCopy()
	}
}

// The source of a move is removed only when the stored status records that
// very move as switched: a stale copy saying "switched" after the move
// finished (and another may have started) removes nothing.
func TestUnitStaleSwitchRemovesNothing(t *testing.T) {
	stored := unitOrg("a", atLocation(dedicated("a"))) // the move from shared back to org_a is over
	r := newUnitReconciler(t, &fakeStore{RemoveTenantFn: func(_ context.Context, l mongostore.Location) (int64, error) {
		t.Fatalf("removed %s on a stale status", l)
		return 0, nil
	}}, 0, stored)
	stale := stored.DeepCopy()
	atLocation(sharedLoc("a"))(stale)
	stale.Status.Migration = &tenancyv1alpha1.MigrationStatus{Source: toDocLocation(dedicated("a")), Target: toDocLocation(sharedLoc("a")),
		Phase: tenancyv1alpha1.MigrationSwitched, Method: tenancyv1alpha1.MigrationCopy}
	err := r.runMigration(context.Background(), &tenant{org: stale, persisted: stale.Status.DeepCopy()})
	if !apierrors.IsConflict(err) {
		t.Fatalf("runMigration on a stale switched move: %v, want a conflict", err)
	}
}

// A rename concerns one incarnation of the organization it names: after
// A -> B finished, a new A is nobody's heir (issue 20: renaming back
// deadlocked, a newcomer stalled Renamed for good).
func TestUnitConcerns(t *testing.T) {
	heir := func(finished bool, pinned string) *tenancyv1alpha1.Organization {
		o := unitOrg("b")
		o.Spec.RenamedFrom = "a"
		o.Status.RenamedFromUID = pinned
		if finished {
			o.Status.RenamedFrom = "a"
		}
		return o
	}
	tests := []struct {
		name string
		heir *tenancyv1alpha1.Organization
		uid  types.UID
		want bool
	}{
		{"finished, took over this incarnation", heir(true, "a1"), "a1", true},
		{"finished, took over an earlier incarnation", heir(true, "a1"), "a2", false},
		{"finished, nothing pinned (the old one was gone)", heir(true, ""), "a2", false},
		{"finished, and no incarnation exists now", heir(true, "a1"), "", false},
		{"unfinished, nothing pinned yet", heir(false, ""), "a2", true},
		{"unfinished, pinned this incarnation", heir(false, "a2"), "a2", true},
		{"unfinished, pinned an earlier incarnation", heir(false, "a1"), "a2", false},
		{"unfinished, and no incarnation exists now", heir(false, "a1"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := concerns(tt.heir, tt.uid); got != tt.want {
				t.Fatalf("concerns = %v; want %v", got, tt.want)
			}
		})
	}
}
