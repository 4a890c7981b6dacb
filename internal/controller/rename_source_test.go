package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestRenameSource(t *testing.T) {
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

// A rename concerns one incarnation of the organization it names: after
// A -> B finished, a new A is nobody's heir (issue 20: renaming back
// deadlocked, a newcomer stalled Renamed for good).
func TestConcerns(t *testing.T) {
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
