//go:build integration

package controller_test

import (
	"fmt"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/faultstore"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// createReadyOrgs creates n organizations (a few in parallel), waits until
// every one is Ready, and deletes them all at the end of the spec.
func createReadyOrgs(prefix string, n int, tenancy ...tenancyv1alpha1.Tenancy) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = uniqueName(prefix)
	}
	inParallel(names, func(name string) {
		org := newOrg(name)
		if len(tenancy) > 0 {
			org.Spec.Tenancy = tenancy[0]
		}
		Expect(k8s.Create(ctx, org)).To(Succeed())
	})
	DeferCleanup(func() {
		inParallel(names, func(name string) {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
		})
		for _, name := range names {
			deleteOrgAndWait(name)
		}
	})
	Eventually(func() int {
		var list tenancyv1alpha1.OrganizationList
		Expect(k8s.List(ctx, &list)).To(Succeed())
		ready := 0
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		for _, o := range list.Items {
			if want[o.Name] && condition(&o, tenancyv1alpha1.ConditionReady) != nil &&
				condition(&o, tenancyv1alpha1.ConditionReady).Status == metav1.ConditionTrue {
				ready++
			}
		}
		return ready
	}, 3*time.Minute, 250*time.Millisecond).Should(Equal(n))
	return names
}

func inParallel(names []string, f func(string)) {
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			defer GinkgoRecover()
			for name := range work {
				f(name)
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
}

var _ = Describe("14. Resync at scale", func() {
	It("observes 50 Ready organizations per resync period with a constant number of MongoDB commands and no write", func() {
		createReadyOrgs("steady", 50)
		expectQuietPasses()
	})

	It("measures 50 Ready Auto organizations per resync period with the same constant commands and no write", func() {
		names := createReadyOrgs("steady-auto", 50, tenancyv1alpha1.TenancyAuto)
		for _, name := range names[:10] {
			seedShared(name, 0, 3) // sizes to measure, below any threshold and hysteresis
		}
		expectQuietPasses()
	})

	It("repairs only the drifted tenants among 50: a dropped collection and a deleted admin record", func() {
		names := createReadyOrgs("drifty", 50)
		lostCollection, lostAdmin := names[7], names[31]
		before := map[string]*check.Admin{}
		for _, n := range names {
			before[n] = admin(n)
		}
		time.Sleep(resyncPeriod)
		Expect(writer.Drop(ctx, "org_"+lostCollection)).To(Succeed())
		dropAdmin(lostAdmin)
		writes, sentBefore := mgr.Commands.Writes(), mgr.Commands.Snapshot()

		Eventually(func() (bool, error) { return reader.CollectionExists(ctx, "org_"+lostCollection) }, 3*resyncPeriod+timeout, interval).Should(BeTrue())
		Eventually(func() *check.Admin { return admin(lostAdmin) }, 3*resyncPeriod+timeout, interval).ShouldNot(BeNil())
		Eventually(func() []string { return eventReasons(lostCollection) }, timeout, interval).Should(ContainElement(controller.EventCollectionRecreated))
		Eventually(func() []string { return eventReasons(lostAdmin) }, timeout, interval).Should(ContainElement(controller.EventAdminRecreated))
		time.Sleep(2 * resyncPeriod)
		// One collection created, one admin record written, and the
		// recreated admin's organization's sessions ended before and after
		// (two deletes; authentication reads only the session): nothing else.
		sent := map[string]int64{}
		for name, n := range mgr.Commands.Since(sentBefore) {
			if slices.Contains(mongostore.WriteCommands, name) {
				sent[name] = n
			}
		}
		Expect(sent).To(Equal(map[string]int64{"create": 1, "insert": 1, "delete": 2}), "MongoDB writes beyond the two repairs")
		Expect(mgr.Commands.Writes() - writes).To(Equal(int64(4)))
		for _, n := range names {
			if n == lostAdmin {
				continue
			}
			Expect(admin(n)).To(Equal(before[n]), "the admin record of %s was rewritten", n)
		}
	})

	It("reconciles a new organization before a backlog of 200 resyncs", func() {
		names := createReadyOrgs("backlog", 200)
		// Every one of them drifts (admin record gone), and the next manager
		// is slow: each repair takes at least 40 ms on its single worker, so
		// the backlog lasts 8 s or more.
		Expect(mgr.Stop()).To(Succeed())
		DeferCleanup(restoreManager)
		for _, n := range names {
			dropAdmin(n)
		}
		var err error
		mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod, MaxConcurrentReconciles: 1,
			WrapStore: faultstore.Slow(20 * time.Millisecond)})
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(time.Second) // the first observation has queued the backlog

		name := uniqueName("urgent")
		start := time.Now()
		createOrg(newOrg(name))
		Eventually(func() bool {
			return condition(getOrg(name), tenancyv1alpha1.ConditionReady) != nil &&
				condition(getOrg(name), tenancyv1alpha1.ConditionReady).Status == metav1.ConditionTrue
		}, 2*time.Second, 20*time.Millisecond).Should(BeTrue(), "a new organization waited behind resyncs")
		GinkgoWriter.Printf("new organization Ready after %s\n", time.Since(start))
		repaired, err := reader.Count(ctx, "admins", bson.D{{Key: "organization", Value: bson.D{{Key: "$in", Value: names}}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(repaired).To(BeNumerically("<", 200), fmt.Sprintf("the backlog (%d of 200 repaired) was already gone: the test proves nothing", repaired))
		Eventually(func() (int64, error) {
			return reader.Count(ctx, "admins", bson.D{{Key: "organization", Value: bson.D{{Key: "$in", Value: names}}}})
		}, 2*time.Minute, time.Second).Should(Equal(int64(200)), "the backlog is repaired afterwards")
	})
})

// expectQuietPasses checks that, once creation settled, every bulk
// observation sends a constant handful of MongoDB commands and nothing is
// written to MongoDB or the Kubernetes API.
func expectQuietPasses() {
	GinkgoHelper()
	time.Sleep(2 * resyncPeriod) // let the first passes settle
	// Creation's events go out one by one behind the reconciles: wait
	// until a whole resync period passes without an API write.
	Eventually(func() []string {
		n := mgr.KubeWrites.Count()
		time.Sleep(resyncPeriod)
		return mgr.KubeWrites.Since(n)
	}, time.Minute, 10*time.Millisecond).Should(BeEmpty(), "the operator kept writing to the Kubernetes API after creation")

	// The window opens and closes between two passes (no command for a
	// while), so that it holds whole passes only: a pass cut by the window
	// brought its finds, aggregate and listIndexes without its
	// listCollections, and a loaded CI machine saw 11 "per pass".
	before := quietSnapshot()
	commands, writes, kubeWrites := total(before), mgr.Commands.Writes(), mgr.KubeWrites.Count()
	passes := before["listCollections"] // one per bulk observation

	time.Sleep(4 * resyncPeriod)
	after := quietSnapshot()
	passes = after["listCollections"] - passes
	// getMore continues a find or aggregate whose answer exceeds the first
	// batch (101 documents): one more per batch, as the README says, and
	// earlier specs leave a varying number of organizations behind.
	getMores := after["getMore"] - before["getMore"]
	perPass := float64(total(after)-commands-getMores) / float64(passes)
	sent := map[string]int64{}
	for name, n := range after {
		if d := n - before[name]; d > 0 {
			sent[name] = d
		}
	}
	GinkgoWriter.Printf("%d passes, %.2f MongoDB commands per pass for 50 organizations: %v\n", passes, perPass, sent)
	Expect(passes).To(BeNumerically(">=", 3), "the observer did not run every resync period")
	Expect(float64(getMores)/float64(passes)).To(BeNumerically("<=", 3),
		"more than one further batch per cursor (admin records, ledger, shared counts); sent: %v", sent)
	Expect(perPass).To(BeNumerically("<=", 9),
		"listCollections, two finds (admin records, ledger), one aggregate (shared counts) and one listIndexes for each of the "+
			"five indexed collections per pass, whatever the number of tenants; sent: %v", sent)
	Expect(mgr.Commands.Writes()).To(Equal(writes), "MongoDB writes while nothing drifted; sent: %v", sent)
	Expect(mgr.KubeWrites.Since(kubeWrites)).To(BeEmpty(), "Kubernetes API writes while nothing drifted")
}

// quietSnapshot returns the MongoDB command counts at a moment when no
// command has been sent for a quarter of a second (between two passes of
// the observer, which runs every resync period).
func quietSnapshot() map[string]int64 {
	GinkgoHelper()
	var snap map[string]int64
	Eventually(func() bool {
		snap = mgr.Commands.Snapshot()
		time.Sleep(250 * time.Millisecond)
		return total(mgr.Commands.Snapshot()) == total(snap)
	}, time.Minute, 10*time.Millisecond).Should(BeTrue(), "MongoDB commands never paused for 250 ms")
	return snap
}

func total(counts map[string]int64) int64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}
