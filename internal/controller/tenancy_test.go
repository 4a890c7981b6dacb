//go:build integration

package controller_test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/testsupport/faultstore"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

const shared = tenancyv1alpha1.DefaultSharedCollection

// retainedCollections counts the dedicated collections that this cluster's
// deleted organizations retained (retained ledger entries whose collection
// exists): they count against the budget.
func retainedCollections() int {
	GinkgoHelper()
	kubeSystem := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, kubeSystem)).To(Succeed()) // the cluster id
	var entries []struct {
		Collection string `bson:"collection"`
	}
	Expect(reader.Decode(ctx, "tenants", bson.D{{Key: "state", Value: "retained"},
		{Key: "cluster", Value: string(kubeSystem.UID)}, {Key: "filter", Value: bson.D{{Key: "$exists", Value: false}}}}, &entries)).To(Succeed())
	existing, err := reader.Collections(ctx)
	Expect(err).NotTo(HaveOccurred())
	n := 0
	for _, e := range entries {
		if slices.Contains(existing, e.Collection) {
			n++
		}
	}
	return n
}

// seed inserts n varied documents into a dedicated collection. Their _id
// values are unique across tenants (prefixed by the collection), as ObjectIds
// are: a shared collection holds one _id space for every tenant.
func seed(collection string, n int) {
	docs := make([]any, n)
	for i := range n {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%04d", collection, i)}, {Key: "n", Value: i},
			{Key: "text", Value: fmt.Sprintf("document number %d", i)}, {Key: "tags", Value: bson.A{"a", i % 7}},
			{Key: "nested", Value: bson.D{{Key: "even", Value: i%2 == 0}}}}
	}
	err := writer.InsertMany(ctx, collection, docs)
	Expect(err).NotTo(HaveOccurred())
}

// contents reads a tenant's documents sorted by _id, without the tenant field.
func contents(collection string, filter bson.D) []bson.D {
	GinkgoHelper()
	var docs []bson.D
	Expect(reader.Decode(ctx, collection, filter, &docs)).To(Succeed())
	slices.SortFunc(docs, func(a, b bson.D) int { return strings.Compare(fmt.Sprint(a[0].Value), fmt.Sprint(b[0].Value)) })
	for i, d := range docs {
		out := bson.D{}
		for _, e := range d {
			if e.Key != "organization" {
				out = append(out, e)
			}
		}
		docs[i] = out
	}
	return docs
}

func byOrg(name string) bson.D { return bson.D{{Key: "organization", Value: name}} }

func setTenancy(name string, tenancy tenancyv1alpha1.Tenancy) {
	Eventually(func() error {
		org := getOrg(name)
		org.Spec.Tenancy = tenancy
		return k8s.Update(ctx, org)
	}, timeout, interval).Should(Succeed())
}

// waitMoved waits until the org is Ready with its documents at collection and no move pending.
func waitMoved(name, collection string) *tenancyv1alpha1.Organization {
	var org *tenancyv1alpha1.Organization
	Eventually(func(g Gomega) {
		org = getOrg(name)
		g.Expect(org.Status.Collection).To(Equal(collection))
		g.Expect(org.Status.Migration).To(BeNil())
		g.Expect(condition(org, tenancyv1alpha1.ConditionMigrating)).To(BeNil())
	}, 60*time.Second, interval).Should(Succeed())
	return waitReady(name)
}

// swapManager replaces the suite's manager (tests that crash it or change
// its settings), and puts a plain one back afterwards.
func swapManager(o testenv.Options) {
	Expect(mgr.Stop()).To(Succeed())
	var err error
	mgr, err = testEnv.StartInProcessManager(o)
	Expect(err).NotTo(HaveOccurred())
}

func restoreManager() {
	swapManager(testenv.Options{ResyncPeriod: resyncPeriod})
}

// interruptedMove creates a Dedicated organization with 250 documents,
// switches it to Shared under a manager that crashes at step, waits until
// the crash happened and returns the documents as they were. The suite's
// manager is put back at the end of the test.
func interruptedMove(name string, step faultstore.Point) []bson.D {
	createOrg(newOrg(name))
	waitReady(name)
	seed("org_"+name, 250)
	before := contents("org_"+name, bson.D{})
	fault, reached := faultstore.CrashAt(name, step)
	swapManager(testenv.Options{ResyncPeriod: resyncPeriod, MigrationBatchSize: 50, WrapStore: faultstore.Wrap(fault)})
	DeferCleanup(restoreManager)
	setTenancy(name, tenancyv1alpha1.TenancyShared)
	Eventually(reached, 60*time.Second).Should(BeClosed())
	return before
}

// sharedTenant creates a Shared organization (deletionPolicy Delete) and
// writes n documents for it into the shared collection.
func sharedTenant(name string, n int) {
	o := newOrg(name)
	o.Spec.Tenancy = tenancyv1alpha1.TenancyShared
	o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
	createOrg(o)
	waitReady(name)
	for i := range n {
		doc := bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%03d", name, i)}, {Key: "organization", Value: name}, {Key: "i", Value: i}}
		err := writer.InsertMany(ctx, shared, []any{doc})
		Expect(err).NotTo(HaveOccurred())
	}
}

var _ = Describe("10. Shared tenancy", func() {
	It("keeps a Shared org's documents in the shared collection and says how to scope queries", func() {
		name := uniqueName("small")
		org := newOrg(name)
		org.Spec.Tenancy = tenancyv1alpha1.TenancyShared
		createOrg(org)
		org = waitReady(name)
		Expect(org.Status.Collection).To(Equal(shared))
		Expect(org.Status.DocumentFilter).To(Equal(`{"organization":"` + name + `"}`))
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse())
		Expect(reader.CollectionExists(ctx, shared)).To(BeTrue())
	})

	It("deletes only its own documents from the shared collection (Delete), and none with Retain", func() {
		a, b, keep := uniqueName("tenant-a"), uniqueName("tenant-b"), uniqueName("tenant-keep")
		for _, n := range []string{a, b, keep} {
			o := newOrg(n)
			o.Spec.Tenancy = tenancyv1alpha1.TenancyShared
			o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
			if n == keep {
				o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyRetain
			}
			createOrg(o)
			waitReady(n)
		}
		for i := range 6 {
			for _, n := range []string{a, b, keep} {
				err := writer.InsertMany(ctx, shared, []any{bson.D{{Key: "organization", Value: n}, {Key: "i", Value: i}}})
				Expect(err).NotTo(HaveOccurred())
			}
		}
		deleteOrgAndWait(a)
		deleteOrgAndWait(keep)
		Expect(reader.Count(ctx, shared, byOrg(a))).To(BeZero())
		Expect(reader.Count(ctx, shared, byOrg(b))).To(Equal(int64(6)), "another tenant's documents were touched")
		Expect(reader.Count(ctx, shared, byOrg(keep))).To(Equal(int64(6)), "Retain removed documents")
	})
})

var _ = Describe("11. Switching tenancy", func() {
	It("moves 500 documents Dedicated -> Shared -> Dedicated with counts and contents identical", func() {
		name := uniqueName("mover")
		createOrg(newOrg(name))
		waitReady(name)
		seed("org_"+name, 500)
		before := contents("org_"+name, bson.D{})
		Expect(before).To(HaveLen(500))

		setTenancy(name, tenancyv1alpha1.TenancyShared)
		org := waitMoved(name, shared)
		Expect(org.Status.DocumentFilter).To(ContainSubstring(name))
		Expect(contents(shared, byOrg(name))).To(Equal(before))
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse(), "the source collection was not dropped")

		setTenancy(name, tenancyv1alpha1.TenancyDedicated)
		waitMoved(name, "org_"+name)
		Expect(contents("org_"+name, bson.D{})).To(Equal(before))
		Expect(reader.Count(ctx, shared, byOrg(name))).To(BeZero(), "the shared copy was not removed")
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(
			ContainElements(controller.EventMigrationStarted, controller.EventMigrationCompleted))
	})

	DescribeTable("resumes after a crash at any step, with every document exactly once",
		func(step faultstore.Point) {
			name := uniqueName("crash")
			before := interruptedMove(name, step)

			// The move is visible while it is interrupted, and no tool calls it Degraded.
			checkToolsAgree(name)
			org := getOrg(name)
			Expect(org.Status.Migration).NotTo(BeNil())
			migrating := condition(org, tenancyv1alpha1.ConditionMigrating)
			Expect(migrating).NotTo(BeNil())
			Expect(condition(org, tenancyv1alpha1.ConditionReady).Reason).To(Equal(tenancyv1alpha1.ReasonMigrating))
			if step == faultstore.AfterBatchCopied {
				Expect(migrating.Message).To(MatchRegexp(`copied 50 of 250|50 of 250 copied`))
			}

			restoreManager() // the crash: the next manager starts from what is stored
			waitMoved(name, shared)
			Expect(contents(shared, byOrg(name))).To(Equal(before), "documents lost or duplicated")
			Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse())
		},
		Entry("after a batch copy", faultstore.AfterBatchCopied),
		Entry("after the status switch, before the source is removed", faultstore.BeforeRemoveTenant),
		Entry("after the source is removed, before the move is cleared", faultstore.AfterRemoveTenant),
	)

	DescribeTable("converges on the latest spec when a move is reversed while it is interrupted",
		func(step faultstore.Point) {
			// Found by the chaos suite: the resumed move finished and the
			// organization was Ready for the new generation in the old place.
			name := uniqueName("reversed")
			before := interruptedMove(name, step)
			setTenancy(name, tenancyv1alpha1.TenancyDedicated) // reversed while the move is interrupted

			restoreManager()
			org := waitMoved(name, "org_"+name)
			Expect(org.Status.ObservedGeneration).To(Equal(org.Generation))
			Expect(contents("org_"+name, bson.D{})).To(Equal(before), "documents lost or duplicated")
			Expect(reader.Count(ctx, shared, byOrg(name))).To(BeZero(), "documents left in the shared collection")
		},
		Entry("while copying", faultstore.AfterBatchCopied),
		Entry("after the status switch, before the source is removed", faultstore.BeforeRemoveTenant),
	)

	It("stalls a move that would overwrite another tenant's document, touching nothing", func() {
		owner, mover := uniqueName("owner"), uniqueName("clash")
		o := newOrg(owner)
		o.Spec.Tenancy = tenancyv1alpha1.TenancyShared
		createOrg(o)
		waitReady(owner)
		clash := "org_" + mover + "-0001" // the _id the mover's second document will have
		err := writer.InsertMany(ctx, shared, []any{bson.D{{Key: "_id", Value: clash}, {Key: "organization", Value: owner}, {Key: "mine", Value: true}}})
		Expect(err).NotTo(HaveOccurred())
		createOrg(newOrg(mover))
		waitReady(mover)
		seed("org_"+mover, 3)
		setTenancy(mover, tenancyv1alpha1.TenancyShared)
		waitCondition(mover, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonMigrationConflict)
		Expect(reader.Count(ctx, "org_"+mover, bson.D{})).To(Equal(int64(3)), "the source lost documents")
		var docs []bson.M
		Expect(reader.Decode(ctx, shared, bson.D{{Key: "_id", Value: clash}}, &docs)).To(Succeed())
		Expect(docs).To(HaveLen(1))
		Expect(docs[0]["organization"]).To(Equal(owner))
		Expect(docs[0]["mine"]).To(BeTrue())
	})
})

var _ = Describe("12. Dedicated-collection budget", func() {
	It("stalls a new Dedicated org beyond --max-dedicated-collections and never affects existing ones", func() {
		// The budget counts the Organizations that hold a dedicated
		// collection, and the collections deleted ones retained.
		retained := retainedCollections()
		var orgs tenancyv1alpha1.OrganizationList
		Expect(k8s.List(ctx, &orgs)).To(Succeed())
		n := 0
		for _, o := range orgs.Items {
			if strings.HasPrefix(o.Status.Collection, tenancyv1alpha1.DedicatedCollectionPrefix) {
				n++
			}
		}
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, MaxDedicatedCollections: n + retained + 1})
		DeferCleanup(restoreManager)

		last := uniqueName("last-slot")
		createOrg(newOrg(last))
		waitReady(last)
		over := uniqueName("over-budget")
		createOrg(newOrg(over))
		org := waitCondition(over, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonCollectionBudgetExceeded)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("spec.tenancy: Shared"))
		Expect(reader.CollectionExists(ctx, "org_"+over)).To(BeFalse())

		// An existing organization keeps its collection, even recreated after a drop.
		Expect(writer.Drop(ctx, "org_"+last)).To(Succeed())
		Eventually(func() (bool, error) { return reader.CollectionExists(ctx, "org_"+last) }, timeout, interval).Should(BeTrue())

		// The suggested way out works.
		setTenancy(over, tenancyv1alpha1.TenancyShared)
		Expect(waitReady(over).Status.Collection).To(Equal(shared))
	})
})

var _ = Describe("12b. Retained data in the budget", func() {
	It("counts the collections deleted organizations retained, so deleting does not make room", func() {
		// Issue 20: sign-up and delete in a loop grew MongoDB without bound,
		// because the budget counted live Organizations only.
		var orgs tenancyv1alpha1.OrganizationList
		Expect(k8s.List(ctx, &orgs)).To(Succeed())
		held := 0
		for _, o := range orgs.Items {
			if strings.HasPrefix(o.Status.Collection, tenancyv1alpha1.DedicatedCollectionPrefix) && o.Status.DocumentFilter == "" {
				held++
			}
		}
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, MaxDedicatedCollections: held + retainedCollections() + 1})
		DeferCleanup(restoreManager)

		kept := uniqueName("kept-slot")
		o := newOrg(kept)
		o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyRetain
		createOrg(o)
		waitReady(kept)
		seed("org_"+kept, 3)
		deleteOrgAndWait(kept) // its collection stays, and so does its place in the budget
		Expect(reader.Count(ctx, "org_"+kept, bson.D{})).To(Equal(int64(3)))

		next := uniqueName("after-retain")
		createOrg(newOrg(next))
		org := waitCondition(next, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonCollectionBudgetExceeded)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("retained from deleted organizations"))
		Expect(reader.CollectionExists(ctx, "org_"+next)).To(BeFalse())
	})
})

var _ = Describe("13. Rename", func() {
	// oldTenant creates an organization with documents and returns its password.
	oldTenant := func(name string, policy tenancyv1alpha1.DeletionPolicy) string {
		o := newOrg(name)
		o.Spec.DeletionPolicy = policy
		createOrg(o)
		waitReady(name)
		seed("org_"+name, 40)
		return string(ownedSecret(name).Data["password"])
	}
	renamed := func(newName, old string) *tenancyv1alpha1.Organization {
		o := newOrg(newName)
		o.Spec.Admin.Email = "admin@" + old + ".example"
		o.Spec.RenamedFrom = old
		o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
		return o
	}
	// checkTakenOver verifies the new organization holds the data, the admin
	// and the password of the old one.
	checkTakenOver := func(newName, old, pw string, before []bson.D, oldVersion int64) {
		org := waitReady(newName)
		Expect(org.Status.RenamedFrom).To(Equal(old))
		Expect(org.Status.Collection).To(Equal("org_" + newName))
		Expect(contents("org_"+newName, bson.D{})).To(Equal(before))
		Expect(reader.CollectionExists(ctx, "org_"+old)).To(BeFalse())
		a := admin(newName)
		Expect(a).NotTo(BeNil())
		Expect(a.CredentialsVersion).To(Equal(oldVersion+1), "old tokens must end")
		Expect(string(ownedSecret(newName).Data["password"])).To(Equal(pw))
		ok, _ := password.Verify(pw, a.PasswordHash)
		Expect(ok).To(BeTrue())
		Expect(admin(old)).To(BeNil())
	}

	It("takes over an old organization that is never deleted; the old one stands aside", func() {
		old, newName := uniqueName("oldname"), uniqueName("newname")
		pw := oldTenant(old, tenancyv1alpha1.DeletionPolicyDelete)
		before, version := contents("org_"+old, bson.D{}), admin(old).CredentialsVersion
		createOrg(renamed(newName, old))
		checkTakenOver(newName, old, pw, before, version)
		org := waitCondition(old, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRenamed)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring(newName))
		Consistently(func() (bool, error) { return reader.CollectionExists(ctx, "org_"+old) }, "2s", interval).Should(BeFalse(),
			"the old organization recreated its collection")
		// Deleting the old one afterwards (deletionPolicy Delete) leaves the moved data alone.
		deleteOrgAndWait(old)
		Expect(contents("org_"+newName, bson.D{})).To(Equal(before))
		Expect(admin(newName)).NotTo(BeNil())
	})

	It("renames a Shared organization within the shared collection by relabelling its documents in place", func() {
		// Found by the chaos suite: copying within one collection collided
		// with the documents' own _id and stalled the rename (MigrationConflict).
		old, newName := uniqueName("shared-was"), uniqueName("shared-now")
		sharedTenant(old, 40)
		before, version := contents(shared, byOrg(old)), admin(old).CredentialsVersion
		pw := string(ownedSecret(old).Data["password"])
		n := renamed(newName, old)
		n.Spec.Tenancy = tenancyv1alpha1.TenancyShared
		createOrg(n)

		org := waitReady(newName)
		Expect(org.Status.RenamedFrom).To(Equal(old))
		Expect(org.Status.Collection).To(Equal(shared))
		Expect(org.Status.Migration).To(BeNil())
		Expect(contents(shared, byOrg(newName))).To(Equal(before))
		Expect(reader.Count(ctx, shared, byOrg(old))).To(BeZero())
		a := admin(newName)
		Expect(a).NotTo(BeNil())
		Expect(a.CredentialsVersion).To(Equal(version + 1))
		Expect(string(ownedSecret(newName).Data["password"])).To(Equal(pw))
		Expect(admin(old)).To(BeNil())
		// The old organization's Delete policy leaves the relabelled documents alone.
		deleteOrgAndWait(old)
		Expect(contents(shared, byOrg(newName))).To(Equal(before))
	})

	It("keeps the data when the old organization is deleted before the move", func() {
		old, newName := uniqueName("prune-first"), uniqueName("pruned-to")
		pw := oldTenant(old, tenancyv1alpha1.DeletionPolicyDelete)
		before, version := contents("org_"+old, bson.D{}), admin(old).CredentialsVersion
		// As Argo CD may do: the new object and the prune of the old one land
		// while no reconcile has run yet.
		Expect(mgr.Stop()).To(Succeed())
		DeferCleanup(func() {
			if mgr == nil {
				restoreManager()
			}
		})
		createOrg(renamed(newName, old))
		Expect(k8s.Delete(ctx, getOrg(old))).To(Succeed())
		var err error
		mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod})
		Expect(err).NotTo(HaveOccurred())
		checkTakenOver(newName, old, pw, before, version)
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: old}, &tenancyv1alpha1.Organization{}))
		},
			timeout, interval).Should(BeTrue())
		Expect(contents("org_"+newName, bson.D{})).To(Equal(before))
	})

	It("takes over a gone organization's retained data only when the platform adopts it", func() {
		// Issue 20: a rename found a deleted (Retain) organization's data in
		// the ledger and took it without the adoption annotation.
		old, newName := uniqueName("retained-was"), uniqueName("retained-to")
		pw := oldTenant(old, tenancyv1alpha1.DeletionPolicyRetain)
		oldUID := string(getOrg(old).UID)
		before := contents("org_"+old, bson.D{})
		deleteOrgAndWait(old) // the deletion is processed before anything claims it: retained
		createOrg(renamed(newName, old))
		org := waitCondition(newName, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRetainedDataExists)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring(tenancyv1alpha1.AnnotationAdoptData + "=" + oldUID))
		Consistently(func() []bson.D { return contents("org_"+old, bson.D{}) }, "2s", interval).Should(Equal(before), "nothing moved")
		Expect(reader.CollectionExists(ctx, "org_"+newName)).To(BeFalse())

		org = getOrg(newName)
		org.Annotations = map[string]string{tenancyv1alpha1.AnnotationAdoptData: oldUID}
		Expect(k8s.Update(ctx, org)).To(Succeed())
		org = waitReady(newName)
		Expect(org.Status.RenamedFrom).To(Equal(old))
		Expect(contents("org_"+newName, bson.D{})).To(Equal(before))
		Expect(reader.CollectionExists(ctx, "org_"+old)).To(BeFalse())
		Expect(admin(newName)).NotTo(BeNil())
		Expect(string(ownedSecret(newName).Data["password"])).NotTo(Equal(pw), "a gone organization's password is not inherited")
	})

	It("keeps the data when the old organization is deleted during the move", func() {
		old, newName := uniqueName("mid-move"), uniqueName("moved-to")
		sharedTenant(old, 120) // shared -> dedicated: the copy path, interruptible
		before := contents(shared, byOrg(old))
		pw := string(ownedSecret(old).Data["password"])
		version := admin(old).CredentialsVersion

		fault, reached := faultstore.CrashAt(newName, faultstore.AfterBatchCopied)
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, MigrationBatchSize: 50, WrapStore: faultstore.Wrap(fault)})
		DeferCleanup(restoreManager)
		createOrg(renamed(newName, old))
		Eventually(reached, 60*time.Second).Should(BeClosed())
		Expect(k8s.Delete(ctx, getOrg(old))).To(Succeed())
		restoreManager() // resume the move with the old organization being deleted
		Expect(getOrg(old).DeletionTimestamp).NotTo(BeNil())

		org := waitReady(newName)
		Expect(org.Status.RenamedFrom).To(Equal(old))
		Expect(contents("org_"+newName, bson.D{})).To(Equal(before))
		Expect(reader.Count(ctx, shared, byOrg(old))).To(BeZero())
		Expect(string(ownedSecret(newName).Data["password"])).To(Equal(pw))
		Expect(admin(newName).CredentialsVersion).To(Equal(version + 1))
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: old}, &tenancyv1alpha1.Organization{}))
		},
			timeout, interval).Should(BeTrue())
		Expect(contents("org_"+newName, bson.D{})).To(Equal(before))
	})

	It("stalls conflicting claims and a taken target, touching no data", func() {
		old := uniqueName("contested")
		oldTenant(old, tenancyv1alpha1.DeletionPolicyRetain)
		before := contents("org_"+old, bson.D{})
		first, second := uniqueName("claim-a"), uniqueName("claim-b")
		a, b := renamed(first, old), renamed(second, old)
		a.Spec.Admin.Email, b.Spec.Admin.Email = "a@"+first+".example", "b@"+second+".example"
		// Both claims land before any reconcile (a later claim on data
		// already taken over is refused the same way).
		Expect(mgr.Stop()).To(Succeed())
		createOrg(a)
		createOrg(b)
		var err error
		mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod})
		Expect(err).NotTo(HaveOccurred())
		for _, n := range []string{first, second} {
			org := waitCondition(n, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRenameConflict)
			Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring(old))
		}
		Expect(contents("org_"+old, bson.D{})).To(Equal(before))
		Expect(admin(old)).NotTo(BeNil())

		// A target collection that already holds documents.
		taken, src := uniqueName("taken"), uniqueName("src")
		oldTenant(src, tenancyv1alpha1.DeletionPolicyRetain)
		srcBefore := contents("org_"+src, bson.D{})
		seed("org_"+taken, 2)
		t := renamed(taken, src)
		t.Spec.Admin.Email = "t@" + taken + ".example"
		createOrg(t)
		waitCondition(taken, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRenameTargetTaken)
		Expect(contents("org_"+src, bson.D{})).To(Equal(srcBefore))
		Expect(reader.Count(ctx, "org_"+taken, bson.D{})).To(Equal(int64(2)))
	})

	It("rejects renamedFrom naming the organization itself, and changes to it", func() {
		self := newOrg("selfish")
		self.Spec.RenamedFrom = "selfish"
		err := k8s.Create(ctx, self)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.renamedFrom must name a different organization"))

		name := uniqueName("fixed")
		o := renamed(name, "nobody-"+name)
		createOrg(o)
		waitReady(name)
		o = getOrg(name)
		o.Spec.RenamedFrom = "someone-else"
		err = k8s.Update(ctx, o)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.renamedFrom can only be set when the Organization is created"))
	})
})
