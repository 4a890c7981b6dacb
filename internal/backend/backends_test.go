//go:build integration

package backend_test

import (
	"net/http"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

var _ = Describe("1. MongoBackend", func() {
	It("connects from its Secret and reports the deployment", func() {
		b := waitBackendReady("pg")
		Expect(b.Finalizers).To(ContainElement(tenancyv1alpha1.MongoBackendFinalizer))
		Expect(b.Status.ServerVersion).NotTo(BeEmpty())
		Expect(b.Status.ObservedAt).NotTo(BeNil())
		Expect(b.Status.ObservedGeneration).To(Equal(b.Generation))
	})

	It("refuses the reserved name and bad settings with readable messages", func() {
		bad := func(name string, mutate func(*tenancyv1alpha1.MongoBackend)) error {
			b := &tenancyv1alpha1.MongoBackend{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: tenancyv1alpha1.MongoBackendSpec{ConnectionSecretRef: tenancyv1alpha1.BackendSecretRef{Name: "x"}}}
			if mutate != nil {
				mutate(b)
			}
			return k8s.Create(ctx, b)
		}
		Expect(bad("default", nil)).To(MatchError(ContainSubstring("metadata.name may not be 'default'")))
		Expect(bad("ok-name", func(b *tenancyv1alpha1.MongoBackend) { b.Spec.SharedCollection = "org_x" })).To(
			MatchError(ContainSubstring("may not start with org_")))
		Expect(bad("ok-name", func(b *tenancyv1alpha1.MongoBackend) { b.Spec.Database = "a b" })).To(
			MatchError(ContainSubstring("database must consist of")))
		org := newOrg(uniqueName("badref"), "Not_A_Name", tenancyv1alpha1.TenancyDedicated)
		Expect(k8s.Create(ctx, org)).To(MatchError(ContainSubstring("backend must name a MongoBackend")))
	})

	It("stalls a MongoBackend whose Secret is missing, and connects once it appears", func() {
		b := &tenancyv1alpha1.MongoBackend{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("late")},
			Spec: tenancyv1alpha1.MongoBackendSpec{ConnectionSecretRef: tenancyv1alpha1.BackendSecretRef{Name: "late-secret"}}}
		b.Spec.Database = b.Name
		Expect(k8s.Create(ctx, b)).To(Succeed())
		DeferCleanup(func() { deleteBackendAndWait(b.Name) })
		got := waitBackendCondition(b.Name, metav1.ConditionFalse, tenancyv1alpha1.ReasonSecretNotFound)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, tenancyv1alpha1.ConditionStalled)).To(BeTrue())
		createSecret("late-secret", pgFerret.URI())
		waitBackendReady(b.Name)
	})
})

var _ = Describe("2. Placement on a backend", func() {
	It("puts a tenant named on a backend there, its admin record on the default deployment", func() {
		name := uniqueName("on-pg")
		createOrg(newOrg(name, "pg", tenancyv1alpha1.TenancyDedicated))
		org := waitReady(name)
		Expect(org.Status.Backend).To(Equal("pg"))
		Expect(org.Status.Database).To(Equal(pgDatabase))
		Expect(collectionOn(onPG, "org_"+name)).To(BeTrue(), "the collection is not on the pg deployment")
		Expect(collectionOn(onDefault, "org_"+name)).To(BeFalse(), "the collection is on the default deployment")
		a, err := onDefault.Admin(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(a).NotTo(BeNil(), "the admin record is not on the default deployment")
		entry, err := onPG.LedgerEntry(ctx, "org_"+name)
		Expect(err).NotTo(HaveOccurred())
		Expect(entry).NotTo(BeNil(), "no ledger entry beside the data")
		Eventually(func() int32 { return getBackend("pg").Status.Tenants }, timeout, interval).Should(BeNumerically(">=", 1))
		Expect(commandsOn("pg")).To(BeNumerically(">", 0), "no command counted under backend=pg")
		Expect(commandsOn(tenancyv1alpha1.DefaultBackend)).To(BeNumerically(">", 0))
	})

	It("puts a Shared tenant in the backend's shared collection", func() {
		name := uniqueName("shared-pg")
		createOrg(newOrg(name, "pg", tenancyv1alpha1.TenancyShared))
		org := waitReady(name)
		Expect(org.Status.Collection).To(Equal(tenancyv1alpha1.DefaultSharedCollection))
		Expect(collectionOn(onPG, tenancyv1alpha1.DefaultSharedCollection)).To(BeTrue())
		Eventually(func() int32 { return getBackend("pg").Status.SharedTenants }, timeout, interval).Should(BeNumerically(">=", 1))
	})

	It("records the default deployment for a tenant that names none", func() {
		name := uniqueName("plain")
		createOrg(newOrg(name, "", tenancyv1alpha1.TenancyDedicated))
		org := waitReady(name)
		Expect(org.Status.Backend).To(Equal(tenancyv1alpha1.DefaultBackend))
		Expect(collectionOn(onDefault, "org_"+name)).To(BeTrue())
		Expect(collectionOn(onPG, "org_"+name)).To(BeFalse())
	})

	It("stalls a tenant naming a backend that does not exist, and touches nothing", func() {
		name := uniqueName("nowhere")
		createOrg(newOrg(name, "nowhere", tenancyv1alpha1.TenancyDedicated))
		org := waitOrgCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonBackendNotFound)
		Expect(meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("MongoBackend nowhere"))
		Expect(collectionOn(onDefault, "org_"+name)).To(BeFalse())
		Expect(collectionOn(onPG, "org_"+name)).To(BeFalse())
		a, err := onDefault.Admin(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(a).To(BeNil())
	})

	It("chooses among the backends a selector matches, and keeps the choice", func() {
		b := getBackend("pg")
		patch := client.MergeFrom(b.DeepCopy())
		b.Labels = map[string]string{"tier": "postgres"}
		Expect(k8s.Patch(ctx, b, patch)).To(Succeed())
		name := uniqueName("selected")
		org := newOrg(name, "", tenancyv1alpha1.TenancyDedicated)
		org.Spec.Placement = &tenancyv1alpha1.PlacementSpec{BackendSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "postgres"}}}
		createOrg(org)
		Expect(waitReady(name).Status.Backend).To(Equal("pg"))
		Expect(collectionOn(onPG, "org_"+name)).To(BeTrue())

		none := uniqueName("unmatched")
		org = newOrg(none, "", tenancyv1alpha1.TenancyDedicated)
		org.Spec.Placement = &tenancyv1alpha1.PlacementSpec{BackendSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "none"}}}
		createOrg(org)
		waitOrgCondition(none, tenancyv1alpha1.ConditionReconciling, metav1.ConditionTrue, tenancyv1alpha1.ReasonNoBackendMatches)
	})

	It("places new tenants on the default MongoBackend, refuses a second default, and moves nobody when the default changes", func() {
		before := uniqueName("before-default")
		createOrg(newOrg(before, "", tenancyv1alpha1.TenancyDedicated))
		Expect(waitReady(before).Status.Backend).To(Equal(tenancyv1alpha1.DefaultBackend))

		setDefault("pg", true)
		DeferCleanup(setDefault, "pg", false)
		second := uniqueName("second")
		createBackend(second, pgFerret.URI(), func(b *tenancyv1alpha1.MongoBackend) { b.Spec.Database, b.Spec.Default = second, true })
		DeferCleanup(func() { deleteBackendAndWait(second) })
		got := waitBackendCondition(second, metav1.ConditionFalse, tenancyv1alpha1.ReasonDefaultConflict)
		Expect(meta.FindStatusCondition(got.Status.Conditions, tenancyv1alpha1.ConditionReady).Message).To(ContainSubstring("MongoBackend pg is the default already"))

		after := uniqueName("after-default")
		createOrg(newOrg(after, "", tenancyv1alpha1.TenancyDedicated))
		Expect(waitReady(after).Status.Backend).To(Equal("pg"))
		Expect(collectionOn(onPG, "org_"+after)).To(BeTrue())
		Expect(getOrgBackend(before)).To(Equal(tenancyv1alpha1.DefaultBackend), "changing the default moved a tenant")
	})

	It("stalls a move of a tenant with application access, and moves nothing", func() {
		name := uniqueName("stays")
		org := newOrg(name, "pg", tenancyv1alpha1.TenancyDedicated)
		createOrg(org)
		waitReady(name)
		Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
		patch := client.MergeFrom(org.DeepCopy())
		org.Spec.Backend, org.Spec.Access = tenancyv1alpha1.DefaultBackend, &tenancyv1alpha1.AccessPolicy{Namespaces: []string{"shop"}}
		Expect(k8s.Patch(ctx, org, patch)).To(Succeed())
		waitOrgCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonBackendMoveUnsupported)
		Expect(collectionOn(onPG, "org_"+name)).To(BeTrue())
		Expect(collectionOn(onDefault, "org_"+name)).To(BeFalse())
	})
})

var _ = Describe("2b. Moves between backends", func() {
	DescribeTable("move a tenant's 2,000 documents to the other deployment and back, each exactly once",
		func(tenancy tenancyv1alpha1.Tenancy) {
			name := uniqueName("mover")
			createOrg(newOrg(name, tenancyv1alpha1.DefaultBackend, tenancy))
			org := waitReady(name)
			coll, filter := locationOf(org)
			Expect(testEnv.Seed.Documents(ctx, coll, name, tenantField(org), 2000)).To(Succeed())
			want, err := onDefault.Documents(ctx, coll, filter)
			Expect(err).NotTo(HaveOccurred())
			Expect(want).To(HaveLen(2000))

			moveTo(name, "pg")
			org = waitReady(name)
			Expect(org.Status.Backend).To(Equal("pg"))
			Expect(org.Status.Database).To(Equal(pgDatabase))
			expectDocuments(onPG, coll, filter, want)
			expectDocuments(onDefault, coll, filter, nil)
			expectLedger(onPG, org, true)
			expectLedger(onDefault, org, false)

			moveTo(name, tenancyv1alpha1.DefaultBackend)
			org = waitReady(name)
			Expect(org.Status.Backend).To(Equal(tenancyv1alpha1.DefaultBackend))
			expectDocuments(onDefault, coll, filter, want)
			expectDocuments(onPG, coll, filter, nil)
			expectLedger(onDefault, org, true)
			expectLedger(onPG, org, false)
		},
		Entry("Dedicated", tenancyv1alpha1.TenancyDedicated),
		Entry("Shared", tenancyv1alpha1.TenancyShared),
	)

	It("finishes a move whose target deployment is SIGKILLed mid-copy and restarted, each document exactly once", func() {
		name := uniqueName("killed")
		createOrg(newOrg(name, tenancyv1alpha1.DefaultBackend, tenancyv1alpha1.TenancyDedicated))
		org := waitReady(name)
		coll, filter := locationOf(org)
		Expect(testEnv.Seed.Documents(ctx, coll, name, "", 2000)).To(Succeed())
		want, err := onDefault.Documents(ctx, coll, filter)
		Expect(err).NotTo(HaveOccurred())

		moveTo(name, "pg")
		Eventually(func() int64 {
			o := &tenancyv1alpha1.Organization{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, o)).To(Succeed())
			if o.Status.Migration == nil {
				return 0
			}
			return o.Status.Migration.Copied
		}, timeout, 10*time.Millisecond).Should(BeNumerically(">", 0), "the copy did not start")
		Expect(pgFerret.Kill(syscall.SIGKILL)).To(Succeed())
		c := condition(name, tenancyv1alpha1.ConditionMigrating)
		GinkgoWriter.Printf("target killed mid-copy: %s\n", c)
		time.Sleep(2 * resyncPeriod)
		Expect(pgFerret.Start()).To(Succeed())
		org = waitReady(name)
		Expect(org.Status.Backend).To(Equal("pg"))
		expectDocuments(onPG, coll, filter, want)
		expectDocuments(onDefault, coll, filter, nil)
	})
})

var _ = Describe("3. Failure isolation", Ordered, func() {
	It("makes only the stopped deployment's tenants MongoUnavailable; the others stay Ready, unwritten, and new ones become Ready", func() {
		onA, onB := uniqueName("iso-a"), uniqueName("iso-b")
		createOrg(newOrg(onA, "", tenancyv1alpha1.TenancyDedicated))
		createOrg(newOrg(onB, "pg", tenancyv1alpha1.TenancyDedicated))
		waitReady(onA)
		waitReady(onB)
		time.Sleep(resyncPeriod) // trailing writes of the creation land before counting

		writes := mgr.KubeWrites.Count()
		Expect(pgFerret.Stop()).To(Succeed())
		stopped := time.Now()
		DeferCleanup(func() { Expect(pgFerret.Start()).To(Succeed()) })
		waitOrgCondition(onB, tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable)
		waitBackendCondition("pg", metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable)
		GinkgoWriter.Printf("tenant and MongoBackend on the stopped deployment not Ready %s after the stop\n", time.Since(stopped))
		Expect(time.Since(stopped)).To(BeNumerically("<", resyncPeriod+observerRetryBound), "not noticed within one resync period")

		Eventually(func() []float64 { return []float64{backendReady("pg"), backendReady(tenancyv1alpha1.DefaultBackend)} },
			timeout, interval).Should(Equal([]float64{0, 1}), "org_operator_mongobackend_ready")

		fresh := uniqueName("iso-new")
		created := time.Now()
		createOrg(newOrg(fresh, "", tenancyv1alpha1.TenancyDedicated))
		waitReady(fresh)
		Expect(time.Since(created)).To(BeNumerically("<", 2*time.Second), "a new tenant on the live deployment took too long")

		resp, err := http.Get(mgr.APIURL + "/readyz")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusOK), "/readyz depends on a tenants' deployment")

		Consistently(func() error { return converged(onA) }, 2*resyncPeriod, interval).Should(Succeed())
		for _, w := range mgr.KubeWrites.Since(writes) {
			Expect(w).NotTo(ContainSubstring("/organizations/"+onA), "a tenant of the live deployment was written: %s", w)
		}

		Expect(pgFerret.Start()).To(Succeed())
		waitReady(onB)
		waitBackendReady("pg")
	})
})

var _ = Describe("4. Reconnection and deletion", Ordered, func() {
	It("keeps tenants working while the Secret is broken, and reconnects when it changes", func() {
		name := uniqueName("reconnect")
		createOrg(newOrg(name, "pg", tenancyv1alpha1.TenancyDedicated))
		waitReady(name)
		setSecret("pg-mongodb", "not a uri")
		waitBackendCondition("pg", metav1.ConditionFalse, tenancyv1alpha1.ReasonInvalidURI)
		Consistently(func() error { return converged(name) }, 2*resyncPeriod, interval).Should(Succeed())
		Expect(strings.Contains(getBackendMessage("pg"), "not a uri")).To(BeFalse(), "the Secret's value is in the status")
		setSecret("pg-mongodb", pgFerret.URI()+"?appName=reconnected")
		waitBackendReady("pg")
		again := uniqueName("after-reconnect")
		createOrg(newOrg(again, "pg", tenancyv1alpha1.TenancyDedicated))
		waitReady(again)
		Expect(collectionOn(onPG, "org_"+again)).To(BeTrue())
	})

	It("holds the deletion of a backend that still has tenants, naming them, until they are gone", func() {
		doomed := uniqueName("doomed")
		createBackend(doomed, pgFerret.URI(), func(b *tenancyv1alpha1.MongoBackend) { b.Spec.Database = doomed })
		DeferCleanup(func() { deleteBackendAndWait(doomed) })
		waitBackendReady(doomed)
		name := uniqueName("last")
		Expect(k8s.Create(ctx, newOrg(name, doomed, tenancyv1alpha1.TenancyDedicated))).To(Succeed())
		waitReady(name)
		Expect(k8s.Delete(ctx, getBackend(doomed))).To(Succeed())
		got := waitBackendCondition(doomed, metav1.ConditionFalse, tenancyv1alpha1.ReasonTenantsRemain)
		Expect(meta.FindStatusCondition(got.Status.Conditions, tenancyv1alpha1.ConditionReady).Message).To(ContainSubstring(name))
		Consistently(func() error { return k8s.Get(ctx, client.ObjectKey{Name: doomed}, &tenancyv1alpha1.MongoBackend{}) },
			2*resyncPeriod, interval).Should(Succeed(), "the backend went while it held tenants")
		deleteOrgAndWait(name)
		deleteBackendAndWait(doomed)
	})
})
