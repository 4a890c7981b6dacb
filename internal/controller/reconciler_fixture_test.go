package controller

// The unit tests' reconciler: the fake store and controller-runtime's fake
// client, no control plane (`go test -race ./internal/controller/` runs
// them in seconds; the integration suite, build tag integration, is the
// proof against real servers).

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

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

// unitCluster is the unit reconciler's --cluster-id.
const unitCluster = "unit-cluster"

// newUnitReconciler is a reconciler on the fake client (holding objs) and
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
	r := &OrganizationReconciler{
		metrics: m,
		Client:  c, APIReader: c, SecretCache: c, Scheme: unitScheme,
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
	r.addDefaultSite()
	return r
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

// reasonOf is the condition reason an error leads to ("" for a plain error).
func reasonOf(err error) string {
	if se, ok := asStalling(err); ok {
		return se.Reason
	}
	if we, ok := asWaiting(err); ok {
		return we.Reason
	}
	return ""
}

// seededIDs are the _id values memDB.seed gives n documents at l (a move
// keeps them, as the real copy does).
func seededIDs(l mongostore.Location, n int) []string {
	m := &memDB{collections: map[string]map[string]string{}}
	m.seed(l, n)
	return m.ids(l)
}

// readyNow makes an organization Ready for its generation.
func readyNow(o *tenancyv1alpha1.Organization) {
	o.Status.ObservedGeneration = o.Generation
	o.Status.Conditions = []metav1.Condition{{Type: tenancyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Succeeded"}}
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
