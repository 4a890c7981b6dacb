//go:build integration

package controller_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/testsupport/faultstore"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// seedShared inserts documents from..to-1 of a tenant into the shared
// collection, as its application would (each carries the tenant field).
func seedShared(name string, from, to int) {
	docs := make([]any, 0, to-from)
	for i := from; i < to; i++ {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%04d", name, i)}, {Key: "organization", Value: name},
			{Key: "n", Value: i}, {Key: "text", Value: fmt.Sprintf("document number %d", i)}})
	}
	err := writer.InsertMany(ctx, shared, docs)
	Expect(err).NotTo(HaveOccurred())
}

func newAutoOrg(prefix string) string {
	name := uniqueName(prefix)
	org := newOrg(name)
	org.Spec.Tenancy = tenancyv1alpha1.TenancyAuto
	createOrg(org)
	return name
}

// placement waits until the organization's status.placement satisfies match.
func placement(name string, match func(Gomega, *tenancyv1alpha1.PlacementStatus)) *tenancyv1alpha1.Organization {
	var org *tenancyv1alpha1.Organization
	Eventually(func(g Gomega) {
		org = getOrg(name)
		g.Expect(org.Status.Placement).NotTo(BeNil())
		match(g, org.Status.Placement)
	}, 30*time.Second, interval).Should(Succeed())
	return org
}

var _ = Describe("21. Auto placement", func() {
	const threshold = 40 // hysteresis: 4 documents

	It("starts shared, records the measured size, and promotes past the threshold with every document moved once; never back", func() {
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, AutoPromoteDocuments: threshold, MigrationBatchSize: 10})
		DeferCleanup(restoreManager)
		big, small := newAutoOrg("grows"), newAutoOrg("stays")
		for _, name := range []string{big, small} {
			org := waitReady(name)
			Expect(org.Status.Collection).To(Equal(shared))
			Expect(org.Status.Placement.Tenancy).To(Equal(tenancyv1alpha1.TenancyShared))
			Expect(org.Status.Placement.Reason).To(ContainSubstring("start shared"))
		}
		seedShared(big, 0, 30)
		seedShared(small, 0, 10)
		placement(big, func(g Gomega, p *tenancyv1alpha1.PlacementStatus) {
			g.Expect(p.Documents).To(BeEquivalentTo(30))
			g.Expect(p.MeasuredAt).NotTo(BeNil())
			g.Expect(p.Reason).To(ContainSubstring("below the promotion threshold"))
		})
		Expect(getOrg(big).Status.Collection).To(Equal(shared))

		seedShared(big, 30, 45) // 45 >= 40
		before := contents(shared, byOrg(big))
		org := waitMoved(big, "org_"+big)
		Expect(org.Status.Placement.Tenancy).To(Equal(tenancyv1alpha1.TenancyDedicated))
		Expect(org.Status.Placement.Reason).To(ContainSubstring("Promoted"))
		Expect(contents("org_"+big, bson.D{})).To(Equal(before), "documents lost or duplicated")
		Expect(reader.Count(ctx, shared, byOrg(big))).To(BeZero())
		Eventually(func() []string { return eventReasons(big) }, timeout, interval).Should(
			ContainElements(controller.EventPromoted, controller.EventMigrationCompleted))
		Expect(promotions()).To(BeNumerically(">=", 1))

		// The small one stays; the promoted one is never moved back, even
		// when it shrinks below the threshold.
		placement(small, func(g Gomega, p *tenancyv1alpha1.PlacementStatus) { g.Expect(p.Documents).To(BeEquivalentTo(10)) })
		_, err := writer.DeleteMany(ctx, "org_"+big, bson.D{})
		Expect(err).NotTo(HaveOccurred())
		Consistently(func() []string {
			return []string{getOrg(big).Status.Collection, getOrg(small).Status.Collection}
		}, 3*resyncPeriod, interval).Should(Equal([]string{"org_" + big, shared}))
	})

	It("records a new size only beyond the hysteresis, so a steady or slowly changing tenant causes no write", func() {
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, AutoPromoteDocuments: threshold})
		DeferCleanup(restoreManager)
		name := newAutoOrg("steady-auto")
		waitReady(name)
		seedShared(name, 0, 10)
		placement(name, func(g Gomega, p *tenancyv1alpha1.PlacementStatus) { g.Expect(p.Documents).To(BeEquivalentTo(10)) })
		version := getOrg(name).ResourceVersion

		seedShared(name, 10, 13) // 3 < 4: not recorded
		Consistently(func() string { return getOrg(name).ResourceVersion }, 3*resyncPeriod, interval).Should(Equal(version))
		seedShared(name, 13, 15) // 15 - 10 >= 4
		placement(name, func(g Gomega, p *tenancyv1alpha1.PlacementStatus) { g.Expect(p.Documents).To(BeEquivalentTo(15)) })
	})

	It("stays shared, never stalled, when the dedicated-collection budget is full, and says why", func() {
		holder := uniqueName("holder") // at least one slot is held, so the budget below is not 0 (unlimited)
		createOrg(newOrg(holder))
		waitReady(holder)
		var orgs tenancyv1alpha1.OrganizationList
		Expect(k8s.List(ctx, &orgs)).To(Succeed())
		held := 0
		for _, o := range orgs.Items {
			if o.Status.DocumentFilter == "" && o.Status.Collection != "" {
				held++
			}
		}
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, AutoPromoteDocuments: threshold, MaxDedicatedCollections: held})
		DeferCleanup(restoreManager)
		name := newAutoOrg("no-room")
		waitReady(name)
		seedShared(name, 0, 50)
		org := placement(name, func(g Gomega, p *tenancyv1alpha1.PlacementStatus) {
			g.Expect(p.Reason).To(ContainSubstring("--max-dedicated-collections is full"))
			g.Expect(p.Tenancy).To(Equal(tenancyv1alpha1.TenancyShared))
		})
		Expect(org.Status.Collection).To(Equal(shared))
		Expect(condition(org, tenancyv1alpha1.ConditionStalled)).To(BeNil())
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventPromotionDeferred))
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse())
	})

	It("runs at most --max-concurrent-promotions at once; the others wait, shared, with the reason shown", func() {
		first, second := newAutoOrg("first"), newAutoOrg("second")
		waitReady(first)
		waitReady(second)
		fault, reached := faultstore.CrashAt(first, faultstore.AfterBatchCopied)
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, AutoPromoteDocuments: threshold, MigrationBatchSize: 10,
			MaxConcurrentPromotions: 1, WrapStore: faultstore.Wrap(fault)})
		DeferCleanup(restoreManager)
		seedShared(first, 0, 50)
		Eventually(reached, 60*time.Second).Should(BeClosed()) // the first promotion hangs half-way
		seedShared(second, 0, 50)
		org := placement(second, func(g Gomega, p *tenancyv1alpha1.PlacementStatus) {
			g.Expect(p.Reason).To(ContainSubstring("1 promotions are under way"))
		})
		Expect(org.Status.Collection).To(Equal(shared))
		Expect(org.Status.Migration).To(BeNil())

		// Once the first is through, the second goes.
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, AutoPromoteDocuments: threshold, MaxConcurrentPromotions: 1})
		waitMoved(first, "org_"+first)
		waitMoved(second, "org_"+second)
	})

	It("resumes a promotion interrupted by a crash, with every document exactly once", func() {
		name := newAutoOrg("crash-auto")
		waitReady(name)
		fault, reached := faultstore.CrashAt(name, faultstore.AfterBatchCopied)
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, AutoPromoteDocuments: threshold, MigrationBatchSize: 10,
			WrapStore: faultstore.Wrap(fault)})
		DeferCleanup(restoreManager)
		seedShared(name, 0, 60)
		before := contents(shared, byOrg(name))
		Eventually(reached, 60*time.Second).Should(BeClosed())
		checkToolsAgree(name) // Progressing with the copy progress, for Argo CD and kstatus alike

		restoreManager() // the default threshold (10,000) does not undo a promotion under way
		waitMoved(name, "org_"+name)
		Expect(contents("org_"+name, bson.D{})).To(Equal(before), "documents lost or duplicated")
		Expect(reader.Count(ctx, shared, byOrg(name))).To(BeZero())
	})
})

// promotions is org_operator_auto_promotions_total of the current manager.
func promotions() float64 {
	return counterValue("org_operator_auto_promotions_total", nil)
}
