//go:build integration

package controller_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// ledger reads the ownership entry of a dedicated collection; nil when none.
func ledger(collection string) *check.LedgerEntry {
	return ledgerAt(collection)
}

// ledgerAt reads the ownership entry with key (a collection, or
// <collection>/<organization> in a shared collection); nil when none.
func ledgerAt(key string) *check.LedgerEntry {
	GinkgoHelper()
	e, err := reader.LedgerEntry(ctx, key)
	Expect(err).NotTo(HaveOccurred())
	return e
}

// dataOf seeds n documents in an organization's dedicated collection.
func dataOf(name string, n int) {
	for i := range n {
		Expect(writer.InsertMany(ctx, "org_"+name, []any{bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%d", name, i)}}})).To(Succeed())
	}
}

func adopting(org *tenancyv1alpha1.Organization, value string) {
	Eventually(func() error {
		o := getOrg(org.Name)
		o.Annotations = map[string]string{tenancyv1alpha1.AnnotationAdoptData: value}
		return k8s.Update(ctx, o)
	}, timeout, interval).Should(Succeed())
}

var _ = Describe("15. Ownership ledger", func() {
	It("records the owner before any data, and marks it retained when a Retain organization goes", func() {
		name := uniqueName("owned")
		createOrg(newOrg(name))
		org := waitReady(name)
		e := ledger("org_" + name)
		Expect(e).NotTo(BeNil())
		Expect(e.Name).To(Equal(name))
		Expect(e.UID).To(Equal(string(org.UID)))
		Expect(e.State).To(Equal("active"))
		deleteOrgAndWait(name)
		e = ledger("org_" + name)
		Expect(e.State).To(Equal("retained"))
		Expect(e.RetainedAt).NotTo(BeNil())
	})

	It("gives a new organization with a retained tenant's name nothing, until the platform adopts the data with the old UID", func() {
		name := uniqueName("heir")
		createOrg(newOrg(name))
		oldUID := string(waitReady(name).UID)
		dataOf(name, 3)
		deleteOrgAndWait(name)

		createOrg(newOrg(name))
		org := waitCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRetainedDataExists)
		msg := condition(org, tenancyv1alpha1.ConditionStalled).Message
		Expect(msg).To(ContainSubstring(oldUID))
		Expect(msg).To(ContainSubstring(tenancyv1alpha1.AnnotationAdoptData))
		Expect(admin(name)).To(BeNil(), "a stalled organization got an admin account")
		Expect(org.Status.Collection).To(BeEmpty())

		adopting(org, "not-the-uid")
		Consistently(func() string { return condition(getOrg(name), tenancyv1alpha1.ConditionStalled).Reason }, "2s", interval).
			Should(Equal(tenancyv1alpha1.ReasonRetainedDataExists), "a wrong UID adopted the data")
		adopting(org, oldUID)
		waitReady(name)
		Expect(reader.Count(ctx, "org_"+name, nil)).To(Equal(int64(3)))
		Expect(ledger("org_" + name).UID).To(Equal(string(getOrg(name).UID)))
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventAdopted))
	})

	It("treats documents no ledger entry claims as someone else's until adopted as unowned", func() {
		name := uniqueName("squatted")
		dataOf(name, 2) // written directly, as by an application or an old installation
		createOrg(newOrg(name))
		org := waitCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRetainedDataExists)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("no organization owns"))
		Expect(ledger("org_"+name)).To(BeNil(), "a stalled organization claimed the location")
		adopting(org, tenancyv1alpha1.AdoptUnowned)
		waitReady(name)
		Expect(reader.Count(ctx, "org_"+name, nil)).To(Equal(int64(2)))
	})

	It("takes over, as a restore, data whose owner of the same name was never deleted by the operator", func() {
		name := uniqueName("restored")
		o := newOrg(name)
		createOrg(o)
		waitReady(name)
		dataOf(name, 4)
		// The cluster loses the object without the operator seeing a deletion
		// (etcd lost, or the finalizer removed by hand while no manager ran).
		Expect(mgr.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				restoreManager()
			}
		})
		gone := getOrg(name)
		controllerutil.RemoveFinalizer(gone, tenancyv1alpha1.Finalizer)
		Expect(k8s.Update(ctx, gone)).To(Succeed())
		deleteOrgAndWait(name)
		Expect(ledger("org_" + name).State).To(Equal("active"))

		createOrg(newOrg(name)) // re-applied from Git or a backup: new UID
		var err error
		mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod})
		Expect(err).NotTo(HaveOccurred())
		restarted = true
		org := waitReady(name)
		Expect(reader.Count(ctx, "org_"+name, nil)).To(Equal(int64(4)))
		Expect(ledger("org_" + name).UID).To(Equal(string(org.UID)))
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventRestored))
	})

	It("never drops, with deletionPolicy Delete, data it did not own", func() {
		name := uniqueName("not-mine")
		createOrg(newOrg(name))
		waitReady(name)
		dataOf(name, 2)
		deleteOrgAndWait(name) // Retain: the data stays, retained

		o := newOrg(name)
		o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
		createOrg(o)
		waitCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRetainedDataExists)
		deleteOrgAndWait(name)
		Expect(reader.Count(ctx, "org_"+name, nil)).To(Equal(int64(2)), "a stalled organization's Delete dropped retained data")
		Expect(ledger("org_" + name).State).To(Equal("retained"))
	})

	It("moves the ledger entry with the data: a tenancy switch and a rename", func() {
		name := uniqueName("wanderer")
		createOrg(newOrg(name))
		uid := string(waitReady(name).UID)
		setTenancy(name, tenancyv1alpha1.TenancyShared)
		waitMoved(name, shared)
		e := ledgerAt(shared + "/" + name)
		Expect(e).NotTo(BeNil())
		Expect(e.UID).To(Equal(uid))
		Expect(ledger("org_"+name)).To(BeNil(), "the source's entry outlived the move")

		heir := uniqueName("heir-of-wanderer")
		n := newOrg(heir)
		n.Spec.Admin.Email = "admin@" + name + ".example"
		n.Spec.RenamedFrom = name
		createOrg(n)
		newUID := string(waitReady(heir).UID)
		Expect(ledger("org_" + heir).UID).To(Equal(newUID))
		Expect(ledgerAt(shared+"/"+name)).To(BeNil(), "the renamed organization's old entry stayed")
	})

	It("records organizations placed before the ledger existed (an upgrade), once", func() {
		name := uniqueName("legacy")
		createOrg(newOrg(name))
		org := waitReady(name)
		Expect(writer.DeleteMany(ctx, "tenants", bson.D{{Key: "_id", Value: "org_" + name}})).To(Equal(int64(1))) // as before the ledger
		Eventually(func() *check.LedgerEntry { return ledger("org_" + name) }, 3*resyncPeriod+timeout, interval).ShouldNot(BeNil())
		Expect(ledger("org_" + name).UID).To(Equal(string(org.UID)))
	})
})

var _ = Describe("16. Credentials sources", func() {
	refTo := func(name, secret string) *tenancyv1alpha1.Organization {
		o := newOrg(name)
		o.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: secret}
		return o
	}
	secretFor := func(secret string, labels map[string]string) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: secret, Labels: labels},
			StringData: map[string]string{"password": "a platform password"}}
		Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, s))).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(ctx, s) })
	}

	It("refuses a passwordSecretRef to a Secret not labelled for the organization, or to another's or the operator's own", func() {
		unlabelled, owner, thief := uniqueName("nolabel"), uniqueName("owner"), uniqueName("thief")
		secretFor(unlabelled+"-pw", nil)
		createOrg(refTo(unlabelled, unlabelled+"-pw"))
		org := waitCondition(unlabelled, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonPasswordSecretNotAllowed)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("not labelled"))

		secretFor(owner+"-pw", map[string]string{tenancyv1alpha1.LabelOrganization: owner})
		createOrg(refTo(owner, owner+"-pw"))
		waitReady(owner)
		createOrg(refTo(thief, owner+"-pw")) // two organizations, one Secret
		org = waitCondition(thief, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonPasswordSecretNotAllowed)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("belongs to organization " + owner))
		Expect(admin(thief)).To(BeNil())

		for _, own := range []string{tenancyv1alpha1.DefaultSigningKeysSecret, tenancyv1alpha1.MongoDBSecret} {
			name := uniqueName("greedy")
			secretFor(own, map[string]string{tenancyv1alpha1.LabelOrganization: name}) // even when labelled
			createOrg(refTo(name, own))
			org = waitCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonPasswordSecretNotAllowed)
			Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("operator's own"))
		}
	})

	It("keeps the old password when the credentials step fails right after a rename's take-over", func() {
		old, newName := uniqueName("was"), uniqueName("now")
		o := newOrg(old)
		o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
		createOrg(o)
		waitReady(old)
		seed("org_"+old, 5)
		oldPassword := string(ownedSecret(old).Data["password"])
		// A Secret in the way of <new>-admin: the credentials step fails
		// after the documents and the admin record have moved.
		blocker := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: tenancyv1alpha1.CredentialsSecretName(newName)},
			StringData: map[string]string{"password": "not yours"}}
		Expect(k8s.Create(ctx, blocker)).To(Succeed())
		n := newOrg(newName)
		n.Spec.Admin.Email = "admin@" + old + ".example"
		n.Spec.RenamedFrom = old
		createOrg(n)
		waitCondition(newName, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonCredentialsSecretConflict)
		Expect(reader.Count(ctx, "org_"+newName, nil)).To(Equal(int64(5)), "the documents moved before the credentials step")
		// The platform prunes the old organization meanwhile (Argo CD order).
		Expect(k8s.Delete(ctx, getOrg(old))).To(Succeed())
		Expect(k8s.Delete(ctx, blocker)).To(Succeed())

		waitReady(newName)
		Expect(string(ownedSecret(newName).Data["password"])).To(Equal(oldPassword), "the rename lost the admin's password")
		ok, _ := password.Verify(oldPassword, admin(newName).PasswordHash)
		Expect(ok).To(BeTrue())
		Eventually(func() bool { return secretGone(old) }, timeout, interval).Should(BeTrue())
	})
})
