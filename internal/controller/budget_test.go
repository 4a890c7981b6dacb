package controller

import (
	"fmt"
	"testing"
	"time"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestBudget(t *testing.T) {
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
		if _, ok := asWaiting(r.checkBudget(r.siteOf(unitOrg("x")), unitOrg("early"), dedicated("early"))); !ok {
			t.Fatal("a budget that does not know the retained collections yet granted a slot")
		}
		// Found in CI: MongoDB down before the first observation was
		// reported as Progressing, not as the outage it is.
		r.observed.fail(fmt.Errorf("observe: %w", mongostore.ErrUnavailable))
		if err := r.checkBudget(r.siteOf(unitOrg("x")), unitOrg("early"), dedicated("early")); reasonOf(err) != tenancyv1alpha1.ReasonMongoUnavailable {
			t.Fatalf("before the first observation, with MongoDB down: %v; want MongoUnavailable", err)
		}
		r.budget.setRetained(&mongostore.Observation{}, unitCluster) // the first observation: nothing retained
		r.budget.observe(holding("full"))
		err := r.checkBudget(r.siteOf(unitOrg("x")), unitOrg("late"), dedicated("late"))
		if reasonOf(err) != tenancyv1alpha1.ReasonCollectionBudgetExceeded {
			t.Fatalf("err = %v; want CollectionBudgetExceeded", err)
		}
		r.budget.forget("full")
		if err := r.checkBudget(r.siteOf(unitOrg("x")), unitOrg("late"), dedicated("late")); err != nil {
			t.Fatal(err)
		}
		if err := r.checkBudget(r.siteOf(unitOrg("x")), unitOrg("late"), sharedLoc("late")); err != nil || r.budget.used() != 0 {
			t.Fatalf("err %v, used %d; want the reservation released", err, r.budget.used())
		}
	})
}
