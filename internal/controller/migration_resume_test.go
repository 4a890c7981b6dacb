package controller

import (
	"context"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestMigrationResume(t *testing.T) {
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

func TestMigrationConflictStallsAndRemovesNothing(t *testing.T) {
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

// A reconcile working from a stale copy (the cache had not caught up) cannot
// overwrite a newer status: the write carries the resourceVersion it read.
func TestStaleStatusWriteIsRefused(t *testing.T) {
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
func TestStaleSwitchRemovesNothing(t *testing.T) {
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
