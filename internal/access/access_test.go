//go:build integration

package access_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/clients"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// app connects as an application does, with the Secret's uri.
func app(s *corev1.Secret) *mongo.Collection {
	GinkgoHelper()
	c, err := mongo.Connect(options.Client().ApplyURI(string(s.Data["uri"])).SetServerSelectionTimeout(3 * time.Second))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = c.Disconnect(ctx) })
	return c.Database(string(s.Data["database"])).Collection(string(s.Data["collection"]))
}

// authenticates checks the Secret's credentials on a fresh connection.
func authenticates(s *corev1.Secret) error {
	return check.Authenticates(ctx, string(s.Data["uri"]), string(s.Data["database"]), string(s.Data["collection"]))
}

// withPassword is s's uri with another password.
func withPassword(s *corev1.Secret, pw string) string {
	return fmt.Sprintf("mongodb://%s:%s@%s/%s?authSource=%s", s.Data["username"], pw, testEnv.Mongo.Addr(),
		s.Data["database"], s.Data["authSource"])
}

var _ = Describe("An application in an allowed namespace", func() {
	It("gets a user and a Secret it connects with, writes and reads its collection; a wrong password is refused", func() {
		ns := namespace("apps")
		org := organization("acme", tenancyv1alpha1.TenancyDedicated, ns)
		a := newAccess(ns, org.Name)
		a = accessReady(a)
		Expect(a.Status.Isolation).To(Equal(tenancyv1alpha1.IsolationNotEnforced), "FerretDB v1 has no roles")
		Expect(a.Status.Organization).To(Equal(org.Name))
		s := connectionSecret(ns, a.Name)
		Expect(s).NotTo(BeNil())
		Expect(s.Data).To(HaveKey("uri"))
		for k, v := range map[string]string{"username": a.Status.Username, "database": "orgs", "collection": "org_" + org.Name,
			"filter": "{}", "authSource": "orgs"} {
			Expect(string(s.Data[k])).To(Equal(v), k)
		}
		Expect(s.Labels).To(HaveKeyWithValue(tenancyv1alpha1.LabelAccess, a.Name))
		Expect(metav1.IsControlledBy(s, a)).To(BeTrue())
		Expect(accessUsers(a)).To(ConsistOf(a.Status.Username), "one user per access")

		coll := app(s)
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "from-the-app"}, {Key: "n", Value: 1}})
		Expect(err).NotTo(HaveOccurred())
		n, err := reader.Count(ctx, "org_"+org.Name, bson.D{{Key: "_id", Value: "from-the-app"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(int64(1)), "the independent reader sees the application's write")
		Expect(coll.FindOne(ctx, bson.D{{Key: "_id", Value: "from-the-app"}}).Err()).To(Succeed())

		err = check.Authenticates(ctx, withPassword(s, "not-the-password"), "orgs", "org_"+org.Name)
		Expect(errors.Is(err, check.ErrRefused)).To(BeTrue(), "a wrong password: %v", err)

		// MongoDB enforces nothing on FerretDB: the operator says so with a Warning event.
		Eventually(func() bool {
			var list eventsv1.EventList
			Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			for _, e := range list.Items {
				if e.Regarding.Name == a.Name && e.Reason == "IsolationNotEnforced" && e.Type == corev1.EventTypeWarning {
					return true
				}
			}
			return false
		}, timeout, interval).Should(BeTrue())
	})

	It("connects with mongosh (a real client) using the Secret's uri as is: writes and reads; a wrong password is refused", func() {
		ns := namespace("apps")
		org := organization("shell", tenancyv1alpha1.TenancyDedicated, ns)
		s := connectionSecret(ns, accessReady(newAccess(ns, org.Name)).Name)
		script := fmt.Sprintf(`db.getCollection(%q).insertOne({_id: "from-mongosh"}); print("found " + db.getCollection(%q).countDocuments({_id: "from-mongosh"}))`,
			s.Data["collection"], s.Data["collection"])
		out, err := clients.Mongosh(ctx, string(s.Data["uri"]), script)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("found 1"))
		n, err := reader.Count(ctx, "org_"+org.Name, bson.D{{Key: "_id", Value: "from-mongosh"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(int64(1)), "the independent reader sees mongosh's write")

		out, err = clients.Mongosh(ctx, withPassword(s, "not-the-password"), `print("connected")`)
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("Authentication failed"))
		Expect(out).NotTo(ContainSubstring("connected"))
	})

	It("renders spec.secretTemplate keys, and a template that does not render is Stalled with the key named", func() {
		ns := namespace("apps")
		org := organization("tmpl", tenancyv1alpha1.TenancyShared, ns)
		a := accessReady(newAccess(ns, org.Name, func(a *tenancyv1alpha1.OrganizationAccess) {
			a.Spec.SecretTemplate = map[string]string{"MONGO_URL": "{{ .URI }}", "TENANT_FILTER": "{{ .Filter }}"}
		}))
		s := connectionSecret(ns, a.Name)
		Expect(string(s.Data["MONGO_URL"])).To(Equal(string(s.Data["uri"])))
		Expect(string(s.Data["TENANT_FILTER"])).To(Equal(fmt.Sprintf(`{"organization":%q}`, org.Name)))
		Expect(string(s.Data["collection"])).To(Equal(tenancyv1alpha1.DefaultSharedCollection))
		Expect(a.Status.Isolation).To(Equal(tenancyv1alpha1.IsolationNotEnforced))

		bad := newAccess(ns, org.Name, func(a *tenancyv1alpha1.OrganizationAccess) {
			a.Spec.SecretTemplate = map[string]string{"BROKEN": "{{ .Nope }}"}
		})
		got := accessStalled(bad, tenancyv1alpha1.ReasonInvalidSecretTemplate)
		Expect(conditionMessage(got, tenancyv1alpha1.ConditionStalled)).To(ContainSubstring("BROKEN"))
		Expect(connectionSecret(ns, bad.Name)).To(BeNil())
	})

	It("moves the Secret when spec.secretName changes, and leaves a Secret it did not write alone (SecretConflict)", func() {
		ns := namespace("apps")
		org := organization("rename-secret", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name))
		Expect(connectionSecret(ns, a.Name)).NotTo(BeNil())
		patchAccess(a, func(a *tenancyv1alpha1.OrganizationAccess) { a.Spec.SecretName = "db-credentials" })
		a = accessReady(a)
		Expect(a.Status.SecretName).To(Equal("db-credentials"))
		Expect(connectionSecret(ns, "db-credentials")).NotTo(BeNil())
		Eventually(func() *corev1.Secret { return connectionSecret(ns, a.Name) }, timeout, interval).Should(BeNil())

		theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"},
			StringData: map[string]string{"uri": "mongodb://their-own", "username": "theirs"}}
		Expect(k8s.Create(ctx, theirs)).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(theirs), theirs)).To(Succeed())
		other := newAccess(ns, org.Name, func(a *tenancyv1alpha1.OrganizationAccess) { a.Spec.SecretName = "taken" })
		accessStalled(other, tenancyv1alpha1.ReasonSecretConflict)
		after := connectionSecret(ns, "taken")
		Expect(after.ResourceVersion).To(Equal(theirs.ResourceVersion), "their Secret was written")
		Expect(k8s.Delete(ctx, other)).To(Succeed())
		Eventually(func() bool { return apiGone(other) }, timeout, interval).Should(BeTrue())
		Expect(connectionSecret(ns, "taken")).NotTo(BeNil(), "deleting the access deleted a Secret it did not write")
	})

	It("writes a connection Secret deleted behind its back again within a resync", func() {
		ns := namespace("apps")
		org := organization("repair", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name))
		Expect(k8s.Delete(ctx, connectionSecret(ns, a.Name))).To(Succeed())
		Eventually(func() *corev1.Secret { return connectionSecret(ns, a.Name) }, 3*timeout, interval).ShouldNot(BeNil())
		Expect(authenticates(connectionSecret(ns, a.Name))).To(Succeed())
	})
})

var _ = Describe("Who may bind", func() {
	It("gives an access in a namespace the Organization does not allow no user and no Secret", func() {
		allowed, other := namespace("apps"), namespace("elsewhere")
		org := organization("guarded", tenancyv1alpha1.TenancyDedicated, allowed)
		a := newAccess(other, org.Name)
		got := accessStalled(a, tenancyv1alpha1.ReasonAccessNotAllowed)
		Expect(conditionMessage(got, tenancyv1alpha1.ConditionStalled)).To(ContainSubstring("spec.access.namespaces"))
		Consistently(func() []string { return accessUsers(got) }, 2*time.Second, 200*time.Millisecond).Should(BeEmpty())
		Expect(connectionSecret(other, a.Name)).To(BeNil())
	})

	It("follows the namespace selector: a label grants, removing it revokes (users dropped, Secret deleted)", func() {
		ns := namespace("team")
		org := organization("selected", tenancyv1alpha1.TenancyDedicated)
		patchOrg(org.Name, func(o *tenancyv1alpha1.Organization) {
			o.Spec.Access = &tenancyv1alpha1.AccessPolicy{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"tenancy.example/team": org.Name}}}
		})
		a := newAccess(ns, org.Name)
		accessStalled(a, tenancyv1alpha1.ReasonAccessNotAllowed)
		labelNamespace(ns, map[string]string{"tenancy.example/team": org.Name})
		a = accessReady(a)
		Expect(accessUsers(a)).To(HaveLen(1))
		s := connectionSecret(ns, a.Name)
		Expect(authenticates(s)).To(Succeed())

		labelNamespace(ns, map[string]string{"tenancy.example/team": "someone-else"})
		accessStalled(a, tenancyv1alpha1.ReasonAccessNotAllowed)
		Eventually(func() []string { return accessUsers(a) }, timeout, interval).Should(BeEmpty())
		Expect(connectionSecret(ns, a.Name)).To(BeNil())
		Expect(errors.Is(authenticates(s), check.ErrRefused)).To(BeTrue(), "the revoked credentials still work")
	})

	It("revokes the users bound in a namespace removed from spec.access.namespaces", func() {
		ns := namespace("apps")
		org := organization("narrowed", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name))
		s := connectionSecret(ns, a.Name)
		patchOrg(org.Name, func(o *tenancyv1alpha1.Organization) { o.Spec.Access.Namespaces = []string{"somewhere-else"} })
		accessStalled(a, tenancyv1alpha1.ReasonAccessNotAllowed)
		Eventually(func() []string { return accessUsers(a) }, timeout, interval).Should(BeEmpty())
		Expect(connectionSecret(ns, a.Name)).To(BeNil())
		Expect(errors.Is(authenticates(s), check.ErrRefused)).To(BeTrue())
	})
})

var _ = Describe("Deletion", func() {
	It("of the OrganizationAccess drops its users and deletes its Secrets", func() {
		ns := namespace("apps")
		org := organization("gone-access", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name))
		s := connectionSecret(ns, a.Name)
		Expect(k8s.Delete(ctx, a)).To(Succeed())
		Eventually(func() bool { return apiGone(a) }, timeout, interval).Should(BeTrue())
		Expect(accessUsers(a)).To(BeEmpty())
		Expect(connectionSecret(ns, a.Name)).To(BeNil())
		record := &corev1.Secret{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: testEnv.CredentialsNamespace, Name: tenancyv1alpha1.AccessCredentialsName(string(a.UID))}, record)
		Expect(client.IgnoreNotFound(err)).To(Succeed())
		Expect(err).To(HaveOccurred(), "the access's record is left")
		Expect(errors.Is(authenticates(s), check.ErrRefused)).To(BeTrue())
	})

	It("of the Organization drops every access user of it; the accesses turn Stalled (OrganizationNotFound), their Secrets deleted", func() {
		ns1, ns2 := namespace("apps"), namespace("apps")
		org := organization("gone-org", tenancyv1alpha1.TenancyDedicated, ns1, ns2)
		a1, a2 := accessReady(newAccess(ns1, org.Name)), accessReady(newAccess(ns2, org.Name))
		Expect(k8s.Delete(ctx, org)).To(Succeed())
		for _, a := range []*tenancyv1alpha1.OrganizationAccess{a1, a2} {
			accessStalled(a, tenancyv1alpha1.ReasonOrganizationNotFound)
			Eventually(func() []string { return accessUsers(a) }, timeout, interval).Should(BeEmpty())
			Expect(connectionSecret(a.Namespace, a.Name)).To(BeNil())
		}
	})
})

var _ = Describe("Rotation without downtime", func() {
	It("never fails a client that reconnects every 100 ms with what the Secret holds, across 3 rotations; "+
		"the replaced user is refused after the grace period", func() {
		ns := namespace("apps")
		org := organization("rotating", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name))
		first := connectionSecret(ns, a.Name)

		var attempts, failures atomic.Int64
		var lastErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer GinkgoRecover()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				s := &corev1.Secret{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(first), s); err != nil {
					failures.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				attempts.Add(1)
				if err := authenticates(s); err != nil {
					failures.Add(1)
					lastErr.Store(err.Error())
				}
			}
		}()
		users := []string{a.Status.Username}
		for i := 1; i <= 3; i++ {
			time.Sleep(1500 * time.Millisecond)
			annotate(a, tenancyv1alpha1.AnnotationRotate, fmt.Sprint(i))
			Eventually(func() string { return getAccess(a).Status.RotateRequest }, timeout, interval).Should(Equal(fmt.Sprint(i)))
			users = append(users, accessReady(a).Status.Username)
		}
		time.Sleep(1500 * time.Millisecond)
		close(stop)
		wg.Wait()
		Expect(attempts.Load()).To(BeNumerically(">", 30))
		Expect(failures.Load()).To(BeZero(), "a reconnecting client failed: %v", lastErr.Load())
		Expect(users[1]).NotTo(Equal(users[0]))
		Expect(users[2]).To(Equal(users[0]), "two users alternate")
		last := getAccess(a)
		Expect(last.Status.PreviousUsername).To(Equal(users[2]))
		Expect(accessUsers(a)).To(ConsistOf(users[2], users[3]), "two users during the grace period")

		Eventually(func() []string { return accessUsers(a) }, 3*grace+timeout, interval).Should(ConsistOf(users[3]),
			"the replaced user is dropped after the grace period")
		Expect(errors.Is(authenticates(first), check.ErrRefused)).To(BeTrue(), "the first credentials still work")
		Expect(authenticates(connectionSecret(ns, a.Name))).To(Succeed())
		Expect(getAccess(a).Status.PreviousUsername).To(BeEmpty())
	})
})

var _ = Describe("Isolation", func() {
	It("refuses an access that requires isolation on a server without roles (no user)", func() {
		ns := namespace("apps")
		org := organization("strict", tenancyv1alpha1.TenancyDedicated, ns)
		a := newAccess(ns, org.Name, func(a *tenancyv1alpha1.OrganizationAccess) { a.Spec.RequireIsolation = true })
		accessStalled(a, tenancyv1alpha1.ReasonIsolationNotAvailable)
		Expect(accessUsers(a)).To(BeEmpty())
		Expect(connectionSecret(ns, a.Name)).To(BeNil())
	})
})

// conditionMessage is the message of the access's condition typ.
func conditionMessage(a *tenancyv1alpha1.OrganizationAccess, typ string) string {
	for _, c := range a.Status.Conditions {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

func apiGone(a *tenancyv1alpha1.OrganizationAccess) bool {
	err := k8s.Get(ctx, client.ObjectKeyFromObject(a), &tenancyv1alpha1.OrganizationAccess{})
	return client.IgnoreNotFound(err) == nil && err != nil
}

func patchAccess(a *tenancyv1alpha1.OrganizationAccess, mutate func(*tenancyv1alpha1.OrganizationAccess)) {
	GinkgoHelper()
	var got *tenancyv1alpha1.OrganizationAccess
	Eventually(func() error {
		got = getAccess(a)
		base := got.DeepCopy()
		mutate(got)
		return k8s.Patch(ctx, got, client.MergeFrom(base))
	}, timeout, interval).Should(Succeed())
	expectToolsAgree(got) // as the apiserver answered the patch
}

func annotate(a *tenancyv1alpha1.OrganizationAccess, key, value string) {
	GinkgoHelper()
	patchAccess(a, func(a *tenancyv1alpha1.OrganizationAccess) {
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[key] = value
	})
}

func patchOrg(name string, mutate func(*tenancyv1alpha1.Organization)) {
	GinkgoHelper()
	Eventually(func() error {
		org := &tenancyv1alpha1.Organization{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, org); err != nil {
			return err
		}
		base := org.DeepCopy()
		mutate(org)
		return k8s.Patch(ctx, org, client.MergeFrom(base))
	}, timeout, interval).Should(Succeed())
}

func labelNamespace(name string, labels map[string]string) {
	GinkgoHelper()
	ns := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
	base := ns.DeepCopy()
	ns.Labels = labels
	Expect(k8s.Patch(ctx, ns, client.MergeFrom(base))).To(Succeed())
}

var _ = Describe("A rename", func() {
	It("takes the organization's accesses along: same users, the Secret pointing at the new collection", func() {
		ns := namespace("apps")
		old := organization("before", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, old.Name))
		user := a.Status.Username
		coll := app(connectionSecret(ns, a.Name))
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "written-before-the-rename"}})
		Expect(err).NotTo(HaveOccurred())

		heir := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: unique("after")},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: old.Spec.Admin, RenamedFrom: old.Name, DeletionPolicy: tenancyv1alpha1.DeletionPolicyDelete,
				Access: &tenancyv1alpha1.AccessPolicy{Namespaces: []string{ns}}}}
		Expect(k8s.Create(ctx, heir)).To(Succeed())
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, heir)) })
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		Eventually(func() string {
			got := accessReady(a)
			return got.Status.Organization + " " + string(connectionSecret(ns, a.Name).Data["collection"])
		}, timeout, interval).Should(Equal(heir.Name + " org_" + heir.Name))
		Expect(getAccess(a).Status.Username).To(Equal(user), "the same user")
		Expect(accessUsers(a)).To(ConsistOf(user))
		moved := app(connectionSecret(ns, a.Name))
		Expect(moved.FindOne(ctx, bson.D{{Key: "_id", Value: "written-before-the-rename"}}).Err()).To(Succeed())
	})
})

var _ = Describe("--access-roles", Ordered, func() {
	AfterAll(func() { restartManager(testenv.Options{}) })

	It("required: on a server without roles every access is Stalled (RolesUnsupported), with no user", func() {
		restartManager(testenv.Options{AccessMode: access.ModeRequired})
		ns := namespace("apps")
		org := organization("required", tenancyv1alpha1.TenancyDedicated, ns)
		a := newAccess(ns, org.Name)
		accessStalled(a, tenancyv1alpha1.ReasonRolesUnsupported)
		Expect(accessUsers(getAccess(a))).To(BeEmpty())
		Expect(connectionSecret(ns, a.Name)).To(BeNil())
	})

	It("disabled: every access is Stalled (AccessDisabled) and nothing is written", func() {
		restartManager(testenv.Options{AccessMode: access.ModeDisabled})
		ns := namespace("apps")
		org := organization("disabled", tenancyv1alpha1.TenancyDedicated, ns)
		a := newAccess(ns, org.Name)
		got := accessStalled(a, tenancyv1alpha1.ReasonAccessDisabled)
		Expect(got.Finalizers).To(BeEmpty(), "nothing written: not even a finalizer")
		Expect(accessUsers(got)).To(BeEmpty())
		Expect(connectionSecret(ns, a.Name)).To(BeNil())
	})
})
