//go:build integration

package restapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/restapi"
)

// renameTo renames t's organization through the API with its current password.
func renameTo(t tenantOrg, token, newName string) response {
	return call(http.MethodPatch, "/v1/organizations/"+t.name, token, map[string]string{"name": newName, "currentPassword": t.password})
}

// countDocs counts a collection's documents with the independent client.
func countDocs(coll string) int {
	GinkgoHelper()
	docs, err := reader.Documents(ctx, coll, nil)
	Expect(err).NotTo(HaveOccurred())
	return len(docs)
}

// seedDocs writes n documents into coll as an application would.
func seedDocs(coll string, n int) {
	GinkgoHelper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("doc-%d", i)}, {Key: "v", Value: i}}
	}
	Expect(writer.InsertMany(ctx, coll, docs)).To(Succeed())
}

var _ = Describe("Rename through the API", func() {
	It("renames an organization: data, admin and password move; old tokens end", func() {
		t := newTenant("before")
		pair := tokensFor(t)
		seedDocs("org_"+t.name, 1)
		newName := "after-" + t.name
		DeferCleanup(func() { _ = k8s.Delete(ctx, getOrg(newName)) })
		r := renameTo(t, pair.AccessToken, newName)
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		Expect(r.header.Get("Location")).To(Equal("/v1/organizations/" + newName))
		var org restapi.Organization
		Expect(json.Unmarshal(r.body, &org)).To(Succeed())
		Expect(org.Name).To(Equal(newName))
		Expect(org.Collection).To(Equal("org_" + newName))
		Expect(org.Ready).To(BeTrue())
		Expect(countDocs("org_" + newName)).To(Equal(1))

		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil), http.StatusUnauthorized)
		again := tokensFor(t) // same email and password
		Expect(again.Organization).To(Equal(newName))
		Expect(call(http.MethodGet, "/v1/organizations/"+newName, again.AccessToken, nil).status).To(Equal(http.StatusOK))
		Eventually(func() bool { return orgGone(t.name) }, timeout, interval).Should(BeTrue())
	})

	It("needs the current password: a stolen access token alone cannot move the data", func() {
		t := newTenant("stolen")
		pair := tokensFor(t)
		target := "moved-" + t.name
		p := expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken, map[string]string{"name": target}),
			http.StatusBadRequest)
		Expect(p["detail"]).To(ContainSubstring("currentPassword"))
		expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"name": target, "currentPassword": "not the password"}), http.StatusForbidden)
		Expect(orgGone(target)).To(BeTrue(), "no organization was created")
		Expect(getOrg(t.name).DeletionTimestamp).To(BeNil())
		Expect(call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil).status).To(Equal(http.StatusOK), "sessions survive")
	})

	It("renames back (A -> B -> A): the data ends at A, nothing is stuck, the admin logs in", func() {
		a := newTenant("round")
		seedDocs("org_"+a.name, 5)
		b := a
		b.name = "trip-" + a.name
		DeferCleanup(func() {
			for _, n := range []string{a.name, b.name} {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: n}}))).To(Succeed())
			}
		})
		r := renameTo(a, tokensFor(a).AccessToken, b.name)
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		Eventually(func() bool { return orgGone(a.name) }, timeout, interval).Should(BeTrue())

		pair := tokensFor(b)
		Expect(pair.Organization).To(Equal(b.name))
		r = renameTo(b, pair.AccessToken, a.name)
		Expect(r.status).To(Equal(http.StatusOK), "the second rename converges: %s", r.body)
		Eventually(func() bool { return orgGone(b.name) }, timeout, interval).Should(BeTrue(), "the old organization is not stuck")
		org := waitReady(a.name)
		Expect(meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionStalled)).To(BeNil())
		Expect(org.Status.Collection).To(Equal("org_" + a.name))
		Expect(countDocs("org_" + a.name)).To(Equal(5))
		Expect(countDocs("org_" + b.name)).To(BeZero())
		back := tokensFor(a)
		Expect(back.Organization).To(Equal(a.name))
		Expect(call(http.MethodGet, "/v1/organizations/"+a.name, back.AccessToken, nil).status).To(Equal(http.StatusOK))
	})

	It("lets a new Organization take a name that was renamed away, once the take-over finished", func() {
		old := newTenant("vacated")
		seedDocs("org_"+old.name, 3)
		moved := "new-home-" + old.name
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, getOrg(moved))) })
		Expect(renameTo(old, tokensFor(old).AccessToken, moved).status).To(Equal(http.StatusOK))
		Eventually(func() bool { return orgGone(old.name) }, timeout, interval).Should(BeTrue())

		newcomer := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: old.name},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "newcomer@" + old.name + ".example"}}}
		Expect(k8s.Create(ctx, newcomer)).To(Succeed())
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, newcomer)) })
		org := waitReady(old.name)
		Expect(org.Status.Collection).To(Equal("org_" + old.name))
		Expect(countDocs("org_"+old.name)).To(BeZero(), "the newcomer starts empty")
		Expect(countDocs("org_"+moved)).To(Equal(3), "the renamed tenant keeps its data")
		Expect(waitReady(moved).Status.Collection).To(Equal("org_" + moved))
	})
	It("keeps the platform's annotations but never the adoption annotation, and refuses while paused", func() {
		t := newTenant("annotated")
		org := getOrg(t.name)
		org.Annotations = map[string]string{"example.com/cost-center": "42", tenancyv1alpha1.AnnotationAdoptData: tenancyv1alpha1.AdoptUnowned}
		Expect(k8s.Update(ctx, org)).To(Succeed())
		waitReady(t.name)
		moved := "carried-" + t.name
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, getOrg(moved))) })
		Expect(renameTo(t, tokensFor(t).AccessToken, moved).status).To(Equal(http.StatusOK))
		annotations := getOrg(moved).Annotations
		Expect(annotations).To(HaveKeyWithValue("example.com/cost-center", "42"))
		Expect(annotations).NotTo(HaveKey(tenancyv1alpha1.AnnotationAdoptData), "adoption names data at the old place only")

		paused := tenantOrg{name: moved, email: t.email, password: t.password}
		token := tokensFor(paused).AccessToken
		org = getOrg(moved)
		org.Annotations[tenancyv1alpha1.AnnotationReconcile] = tenancyv1alpha1.ReconcileDisabled
		Expect(k8s.Update(ctx, org)).To(Succeed())
		Eventually(func() (string, error) {
			r, err := getOrgAPI(moved, token)
			return r, err
		}, timeout, interval).Should(ContainSubstring(tenancyv1alpha1.ConditionPaused))
		p := expectProblem(renameTo(paused, token, "again-"+t.name), http.StatusConflict)
		Expect(p["detail"]).To(ContainSubstring("paused"))
		Expect(orgGone("again-" + t.name)).To(BeTrue())
	})
})

// getOrgAPI reads an organization through the API, as its admin.
func getOrgAPI(name, token string) (string, error) {
	r := call(http.MethodGet, "/v1/organizations/"+name, token, nil)
	if r.status != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d %s", name, r.status, r.body)
	}
	return string(r.body), nil
}
