//go:build integration

package controller_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/password"
)

var _ = Describe("7. Drift repair", func() {
	It("recreates a collection dropped out of band, with an event", func() {
		name := uniqueName("dropped")
		createOrg(newOrg(name))
		waitReady(name)
		Expect(writer.Drop(ctx, "org_"+name)).To(Succeed())
		Eventually(func() (bool, error) { return reader.CollectionExists(ctx, "org_"+name) }, timeout, interval).Should(BeTrue())
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventCollectionRecreated))
		waitReady(name)
	})

	// Issue 25: indexes were ensured once per process, so one dropped out of
	// band stayed dropped (without admins.email_1, two admin records could
	// take one email).
	DescribeTable("recreates an index the operator relies on that was dropped out of band",
		func(collection, index string, unique bool) {
			shared := uniqueName("indexed")
			o := newOrg(shared)
			o.Spec.Tenancy = tenancyv1alpha1.TenancyShared
			createOrg(o)
			waitReady(shared) // admins and the shared collection exist, with their indexes
			Eventually(func() (map[string]bool, error) { return reader.Indexes(ctx, collection) }, timeout, interval).Should(HaveKey(index))
			Expect(writer.DropIndex(ctx, collection, index)).To(Succeed())
			Expect(reader.Indexes(ctx, collection)).NotTo(HaveKey(index))
			Eventually(func() (map[string]bool, error) { return reader.Indexes(ctx, collection) }, 3*resyncPeriod+timeout, interval).
				Should(HaveKeyWithValue(index, unique), "the index is back, unique as before")
			Eventually(func() float64 {
				return counterValue("org_operator_index_repairs_total", map[string]string{"collection": collection, "index": index})
			}, timeout, interval).Should(BeNumerically(">=", 1))
		},
		Entry("the unique admins.email", "admins", "email_1", true),
		Entry("the unique admins.organization", "admins", "organization_1", true),
		Entry("the shared collection's tenant index", tenancyv1alpha1.DefaultSharedCollection, "organization_1", false),
	)

	It("regenerates a deleted Secret: a new password, a new credentialsVersion", func() {
		name := uniqueName("lostsecret")
		createOrg(newOrg(name))
		waitReady(name)
		old := ownedSecret(name)
		before := admin(name)
		Expect(k8s.Delete(ctx, old)).To(Succeed())

		Eventually(func() int64 { return admin(name).CredentialsVersion }, timeout, interval).Should(Equal(before.CredentialsVersion + 1))
		regenerated := ownedSecret(name)
		Expect(regenerated.UID).NotTo(Equal(old.UID))
		Expect(regenerated.Data["password"]).NotTo(Equal(old.Data["password"]))
		ok, _ := password.Verify(string(regenerated.Data["password"]), admin(name).PasswordHash)
		Expect(ok).To(BeTrue())
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventCredentialsRegenerated))
		waitReady(name)
	})

	It("repairs a credentials Secret edited behind its back, though the cache holds Secrets as metadata only", func() {
		name := uniqueName("edited")
		createOrg(newOrg(name))
		waitReady(name)
		before, record := ownedSecret(name), admin(name)
		edited := before.DeepCopy()
		edited.Data[tenancyv1alpha1.SecretKeyEmail] = []byte("mallory@evil.example")
		edited.Data[tenancyv1alpha1.SecretKeyOrganization] = []byte("someone-else")
		delete(edited.Labels, tenancyv1alpha1.LabelManagedBy)
		Expect(k8s.Update(ctx, edited)).To(Succeed())

		Eventually(func(g Gomega) {
			s := ownedSecret(name)
			g.Expect(s.ResourceVersion).NotTo(Equal(edited.ResourceVersion), "not repaired yet")
			g.Expect(string(s.Data[tenancyv1alpha1.SecretKeyEmail])).To(Equal("admin@" + name + ".example"))
			g.Expect(string(s.Data[tenancyv1alpha1.SecretKeyOrganization])).To(Equal(name))
			g.Expect(s.Labels).To(HaveKeyWithValue(tenancyv1alpha1.LabelManagedBy, tenancyv1alpha1.ManagedBy))
			g.Expect(s.Data[tenancyv1alpha1.SecretKeyPassword]).To(Equal(before.Data[tenancyv1alpha1.SecretKeyPassword]))
		}, timeout, interval).Should(Succeed())
		Expect(admin(name).CredentialsVersion).To(Equal(record.CredentialsVersion), "the password did not change: no new credentialsVersion")
		waitReady(name)
	})

	It("recreates a deleted admin record from the Secret", func() {
		name := uniqueName("lostadmin")
		createOrg(newOrg(name))
		waitReady(name)
		before := admin(name)
		dropAdmin(name)

		Eventually(func() *bool {
			a := admin(name)
			if a == nil {
				return nil
			}
			ok, _ := password.Verify(string(ownedSecret(name).Data["password"]), a.PasswordHash)
			return &ok
		}, timeout, interval).Should(HaveValue(BeTrue()))
		Expect(admin(name).ID).NotTo(Equal(before.ID), "a recreated record has a new id, so earlier tokens end")
		Expect(admin(name).PasswordHash).To(HavePrefix("$sha256$v=1$"), "the Secret still holds the generated password: no argon2id needed")
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventAdminRecreated))
	})

	It("performs zero Kubernetes API writes and zero MongoDB writes when resyncing Ready organizations", func() {
		name := uniqueName("quiet")
		createOrg(newOrg(name))
		waitReady(name)
		sharedName := uniqueName("quiet-shared")
		sharedOrg := newOrg(sharedName)
		sharedOrg.Spec.Tenancy = tenancyv1alpha1.TenancyShared
		createOrg(sharedOrg)
		waitReady(sharedName)
		// Let the event broadcaster and any other organization settle.
		time.Sleep(resyncPeriod)
		apiBefore, mongoWritesBefore := mgr.KubeWrites.Count(), mgr.Commands.Writes()
		readsBefore := mgr.Commands.Count("find", "listCollections")

		time.Sleep(3 * resyncPeriod)
		Expect(mgr.Commands.Count("find", "listCollections")).To(BeNumerically(">", readsBefore),
			"no resync happened during the window, so the test proves nothing")
		Expect(mgr.KubeWrites.Since(apiBefore)).To(BeEmpty(), "Kubernetes API writes during resync")
		Expect(mgr.Commands.Writes()).To(Equal(mongoWritesBefore), "MongoDB writes during resync")
		org := getOrg(name)
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
	})
})

var _ = Describe("8. MongoDB outage", func() {
	It("reports MongoUnavailable, retries with backoff, and recovers without losing documents", func() {
		ready := uniqueName("outage-ready")
		createOrg(newOrg(ready))
		waitReady(ready)
		insertDocs("org_"+ready, 4)

		Expect(mongoSrv.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				restartMongo()
			}
		})
		fresh := uniqueName("outage-new")
		createOrg(newOrg(fresh))
		org := waitCondition(fresh, tenancyv1alpha1.ConditionReady, "False", tenancyv1alpha1.ReasonMongoUnavailable)
		Expect(condition(org, tenancyv1alpha1.ConditionReconciling).Status).To(BeEquivalentTo("True"))
		Expect(condition(org, tenancyv1alpha1.ConditionStalled)).To(BeNil(), "an outage is not a human's problem")
		Expect(kstatus(org)).To(Equal(kstatusInProgress))
		// The Ready organization notices on its next resync.
		waitCondition(ready, tenancyv1alpha1.ConditionReady, "False", tenancyv1alpha1.ReasonMongoUnavailable)

		// Backoff, not a hot loop: over 3 seconds only a handful of attempts.
		attempts := func() int64 { return mgr.Commands.Count("listCollections") }
		start := attempts()
		time.Sleep(3 * time.Second)
		Expect(attempts() - start).To(BeNumerically("<", 15))

		restartMongo()
		restarted = true
		waitReady(fresh)
		waitReady(ready)
		Expect(reader.Count(ctx, "org_"+ready, bson.D{})).To(Equal(int64(4)))
	})
})
