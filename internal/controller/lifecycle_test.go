//go:build integration

package controller_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// served fetches the organization as the apiserver serves it (unstructured,
// as kubectl, Argo CD and Flux see it).
func served(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(tenancyv1alpha1.GroupVersion.WithKind("Organization"))
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, u)).To(Succeed())
	return u
}

func kstatusOf(u *unstructured.Unstructured) status.Status {
	res, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// kstatus computes the kstatus of the organization as served now.
func kstatus(org *tenancyv1alpha1.Organization) status.Status {
	return kstatusOf(served(org.Name))
}

var kstatusInProgress = status.InProgressStatus

var _ = Describe("1. Finalizer", func() {
	It("is added before anything outside the cluster is touched", func() {
		Expect(mongoSrv.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				restartMongo()
			}
		})
		name := uniqueName("finalizer")
		createOrg(newOrg(name))
		org := waitCondition(name, tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable)
		Expect(controllerutil.ContainsFinalizer(org, tenancyv1alpha1.Finalizer)).To(BeTrue())

		restartMongo()
		restarted = true
		waitReady(name)
	})
})

var _ = Describe("2. Collection", func() {
	It("creates org_<name> explicitly, so it exists while empty, and records it in status", func() {
		name := uniqueName("coll")
		createOrg(newOrg(name))
		org := waitReady(name)
		Expect(org.Status.Database).To(Equal(database))
		Expect(org.Status.Collection).To(Equal("org_" + name))
		exists, err := reader.CollectionExists(ctx, "org_"+name)
		Expect(err).NotTo(HaveOccurred())
		Expect(exists).To(BeTrue())
		Expect(reader.Count(ctx, "org_"+name, nil)).To(BeZero())
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(
			ContainElement(controller.EventProvisioned))
	})

})

var _ = Describe("3. Credentials Secret", func() {
	It("is owned by the organization, labelled, and holds organization, email and a strong password", func() {
		name := uniqueName("secret")
		createOrg(newOrg(name))
		org := waitReady(name)
		s := ownedSecret(name)
		Expect(s.Type).To(Equal(corev1.SecretTypeOpaque))
		Expect(s.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "org-operator"))
		Expect(s.Labels).To(HaveKeyWithValue("tenancy.org-operator.io/organization", name))
		Expect(metav1.IsControlledBy(s, org)).To(BeTrue())
		Expect(string(s.Data["organization"])).To(Equal(name))
		Expect(string(s.Data["email"])).To(Equal("admin@" + name + ".example"))
		pw := string(s.Data["password"])
		// 32 characters of a 62-symbol alphabet: about 190 bits (>= 128 required).
		Expect(pw).To(MatchRegexp(`^[A-Za-z0-9]{32}$`))
		Expect(org.Status.CredentialsSecretRef).To(Equal(&tenancyv1alpha1.SecretReference{Namespace: credNS, Name: name + "-admin"}))
	})

	It("is never regenerated while it exists, and its email follows the spec while the password stays", func() {
		name := uniqueName("stable")
		createOrg(newOrg(name))
		waitReady(name)
		before := ownedSecret(name)
		versionBefore := admin(name).CredentialsVersion

		time.Sleep(2*resyncPeriod + time.Second) // at least two resyncs
		same := ownedSecret(name)
		Expect(same.ResourceVersion).To(Equal(before.ResourceVersion))
		Expect(same.Data["password"]).To(Equal(before.Data["password"]))

		org := getOrg(name)
		org.Spec.Admin.Email = "new-admin@" + name + ".example"
		Expect(k8s.Update(ctx, org)).To(Succeed())
		Eventually(func() string { return string(ownedSecret(name).Data["email"]) }, timeout, interval).
			Should(Equal("new-admin@" + name + ".example"))
		waitReady(name)
		after := ownedSecret(name)
		Expect(after.Data["password"]).To(Equal(before.Data["password"]))
		Eventually(func() string { return admin(name).Email }, timeout, interval).Should(Equal("new-admin@" + name + ".example"))
		Expect(admin(name).CredentialsVersion).To(Equal(versionBefore), "an email change is not a password change")
	})

	It("reads a referenced Secret without copying it, and recovers by itself when it appears", func() {
		name := uniqueName("ref")
		org := newOrg(name)
		org.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: name + "-pw", Key: "secret-password"}
		createOrg(org)
		org = waitCondition(name, tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonPasswordSecretNotFound)
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Message).To(ContainSubstring(name + "-pw"))
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Reason).To(Equal(tenancyv1alpha1.ReasonPasswordSecretNotFound))

		// The Secret appears without the key: still not found, with a message naming the key.
		pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name + "-pw",
			Labels: map[string]string{"tenancy.org-operator.io/organization": name}},
			StringData: map[string]string{"other": "x"}}
		Expect(k8s.Create(ctx, pw)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, pw))).To(Succeed()) })
		Eventually(func() string {
			return condition(getOrg(name), tenancyv1alpha1.ConditionReady).Message
		}, timeout, interval).Should(ContainSubstring(`"secret-password"`))

		// The key appears: Ready, with no manual kick.
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pw), pw)).To(Succeed())
		pw.StringData = map[string]string{"secret-password": "a referenced password 1"}
		Expect(k8s.Update(ctx, pw)).To(Succeed())
		org = waitReady(name)
		Expect(condition(org, tenancyv1alpha1.ConditionStalled)).To(BeNil())
		Expect(org.Status.CredentialsSecretRef.Name).To(Equal(name + "-pw"))
		Expect(admin(name).PasswordHash).To(HavePrefix("$argon2id$v=19$m=19456,t=2,p=1$"), "a chosen password gets argon2id")
		ok, err := password.Verify("a referenced password 1", admin(name).PasswordHash)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		err = k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: name + "-admin"}, &corev1.Secret{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the referenced password was copied into a Secret")
	})
})

var _ = Describe("4. Admin record", func() {
	It("stores a hash of the Secret's password, never the password: the fast hash for a password it generated", func() {
		name := uniqueName("hash")
		createOrg(newOrg(name))
		waitReady(name)
		pw := string(ownedSecret(name).Data["password"])
		a := admin(name)
		Expect(a).NotTo(BeNil())
		Expect(a.Organization).To(Equal(name))
		Expect(a.Email).To(Equal("admin@" + name + ".example"))
		Expect(a.PasswordHash).NotTo(ContainSubstring(pw))
		// 190 random bits need no memory-hard hash (README, "Passwords and hashes").
		Expect(a.PasswordHash).To(HavePrefix("$sha256$v=1$"))
		ok, err := password.Verify(pw, a.PasswordHash)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(a.CredentialsVersion).To(Equal(int64(1)))
	})

	It("rehashes and increments credentialsVersion when the Secret's password changes, and only then", func() {
		name := uniqueName("rotate")
		createOrg(newOrg(name))
		waitReady(name)
		first := admin(name)

		// A change to the Secret that leaves the password alone: no new version.
		s := ownedSecret(name)
		s.Annotations = map[string]string{"touched": "yes"}
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func() string { return admin(name).CredentialsFingerprint }, timeout, interval).
			Should(ContainSubstring(s.ResourceVersion))
		Expect(admin(name).CredentialsVersion).To(Equal(first.CredentialsVersion))
		Expect(admin(name).PasswordHash).To(Equal(first.PasswordHash))

		s = ownedSecret(name)
		s.Data["password"] = []byte("a brand new password")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func() int64 { return admin(name).CredentialsVersion }, timeout, interval).Should(Equal(first.CredentialsVersion + 1))
		a := admin(name)
		Expect(a.PasswordHash).NotTo(Equal(first.PasswordHash))
		Expect(a.ID).To(Equal(first.ID))
		Expect(a.PasswordHash).To(HavePrefix("$argon2id$v=19$m=19456,t=2,p=1$"), "a password a person set gets argon2id")
		ok, _ := password.Verify("a brand new password", a.PasswordHash)
		Expect(ok).To(BeTrue())
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventAdminPasswordChanged))
		for _, note := range eventNotes(name) {
			Expect(note).NotTo(ContainSubstring("a brand new password"))
			Expect(note).NotTo(ContainSubstring("$argon2id"))
		}
	})

	It("refuses an email already used by another organization, changing nothing of the first", func() {
		first := uniqueName("owner")
		email := "boss@" + uniqueName("mail") + ".example"
		owner := newOrg(first)
		owner.Spec.Admin.Email = email
		createOrg(owner)
		waitReady(first)
		before := admin(first)

		second := uniqueName("claimer")
		org := newOrg(second)
		org.Spec.Admin.Email = strings.ToUpper(email)
		createOrg(org)
		org = waitCondition(second, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonAdminEmailInUse)
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Reason).To(Equal(tenancyv1alpha1.ReasonAdminEmailInUse))
		Expect(condition(org, tenancyv1alpha1.ConditionStalled).Message).NotTo(ContainSubstring(first), "another tenant's name leaked")
		Expect(admin(second)).To(BeNil())
		Expect(admin(first)).To(Equal(before))

		// Choosing another email lets the second organization become Ready.
		org.Spec.Admin.Email = "admin@" + second + ".example"
		Expect(k8s.Update(ctx, org)).To(Succeed())
		waitReady(second)
		Expect(admin(first)).To(Equal(before))
	})
})

var _ = Describe("5. Status", func() {
	It("is Current for kstatus when Ready and InProgress before", func() {
		name := uniqueName("kstatus")
		org := newOrg(name)
		createOrg(org)
		Expect(kstatus(getOrg(name))).To(Equal(status.InProgressStatus), "a fresh object without status is in progress")
		org = waitReady(name)
		Expect(kstatus(org)).To(Equal(status.CurrentStatus))
		Expect(condition(org, tenancyv1alpha1.ConditionReconciling)).To(BeNil())
		Expect(condition(org, tenancyv1alpha1.ConditionStalled)).To(BeNil())
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Message).To(ContainSubstring("org_" + name))

		// A new generation is InProgress until it is reconciled: looked at
		// while no manager runs, so the check cannot be skipped by a fast
		// reconcile.
		Expect(mgr.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				restoreManager()
			}
		})
		org.Spec.DisplayName = "changed"
		Expect(k8s.Update(ctx, org)).To(Succeed())
		u := served(name)
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		Expect(observed).To(BeNumerically("<", u.GetGeneration()))
		Expect(kstatusOf(u)).To(Equal(status.InProgressStatus))
		var err error
		mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod})
		Expect(err).NotTo(HaveOccurred())
		restarted = true
		org = waitReady(name)
		Expect(kstatus(org)).To(Equal(status.CurrentStatus))
	})

	It("never puts a password or a hash in conditions or events", func() {
		name := uniqueName("nosecret")
		createOrg(newOrg(name))
		org := waitReady(name)
		pw := string(ownedSecret(name).Data["password"])
		hash := admin(name).PasswordHash
		for _, c := range org.Status.Conditions {
			Expect(c.Message).NotTo(ContainSubstring(pw))
			Expect(c.Message).NotTo(ContainSubstring(hash))
		}
		Eventually(func() []string { return eventNotes(name) }, timeout, interval).ShouldNot(BeEmpty())
		for _, note := range eventNotes(name) {
			Expect(note).NotTo(ContainSubstring(pw))
			Expect(note).NotTo(ContainSubstring("argon2id"))
		}
	})
})
