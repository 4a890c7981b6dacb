//go:build integration

package restapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/restapi"
)

// appNamespace creates a namespace for applications, deleted after the spec.
func appNamespace(prefix string) string {
	GinkgoHelper()
	seq++
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, seq)}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func() { _ = k8s.Delete(ctx, ns) })
	return ns.Name
}

// bindApp creates an OrganizationAccess ns/name for org and waits for a verdict.
func bindApp(ns, name, org string, role tenancyv1alpha1.AccessRole) *tenancyv1alpha1.OrganizationAccess {
	GinkgoHelper()
	a := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: org, Role: role}}
	Expect(k8s.Create(ctx, a)).To(Succeed())
	DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, a)) })
	Eventually(func() bool {
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
		return a.Status.ObservedGeneration == a.Generation &&
			(meta.IsStatusConditionTrue(a.Status.Conditions, tenancyv1alpha1.ConditionReady) ||
				meta.IsStatusConditionTrue(a.Status.Conditions, tenancyv1alpha1.ConditionStalled))
	}, timeout, interval).Should(BeTrue(), "access %s/%s reached no verdict: %v", ns, name, a.Status.Conditions)
	return a
}

var _ = Describe("GET /v1/organizations/{name}/access", func() {
	It("lists the applications bound to one's own organization, with no credential, and nothing of others", func() {
		t, other := newTenant("bound"), newTenant("unrelated")
		allowed, refused := appNamespace("shop"), appNamespace("batch")
		for _, o := range []tenantOrg{t, other} {
			org := getOrg(o.name)
			base := org.DeepCopy()
			org.Spec.Access = &tenancyv1alpha1.AccessPolicy{Namespaces: []string{allowed}}
			Expect(k8s.Patch(ctx, org, client.MergeFrom(base), client.FieldOwner("platform"))).To(Succeed())
		}
		web := bindApp(allowed, "web", t.name, "")
		Expect(meta.IsStatusConditionTrue(web.Status.Conditions, tenancyv1alpha1.ConditionReady)).To(BeTrue(), "%v", web.Status.Conditions)
		bindApp(allowed, "reports", t.name, tenancyv1alpha1.AccessRead)
		bindApp(refused, "nightly", t.name, "")
		bindApp(allowed, "theirs", other.name, "")

		token := tokensFor(t).AccessToken
		r := call(http.MethodGet, "/v1/organizations/"+t.name+"/access", token, nil)
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		var list restapi.AccessList
		Expect(json.Unmarshal(r.body, &list)).To(Succeed())
		type row struct {
			ns, name, role, isolation, reason string
			ready, rotated                    bool
		}
		got := make([]row, 0, len(list.Items))
		for _, b := range list.Items {
			got = append(got, row{b.Namespace, b.Name, b.Role, b.Isolation, b.Reason, b.Ready, b.RotatedAt != nil})
		}
		Expect(got).To(Equal([]row{
			{refused, "nightly", "ReadWrite", "", tenancyv1alpha1.ReasonAccessNotAllowed, false, false},
			{allowed, "reports", "Read", string(tenancyv1alpha1.IsolationNotEnforced), "", true, true},
			{allowed, "web", "ReadWrite", string(tenancyv1alpha1.IsolationNotEnforced), "", true, true},
		}))
		Expect(list.Truncated).To(BeFalse())

		// Nothing of the Secret reaches the tenant admin through the API.
		conn := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: allowed, Name: "web"}, conn)).To(Succeed())
		for _, key := range []string{"password", "username", "uri"} {
			Expect(string(r.body)).NotTo(ContainSubstring(string(conn.Data[key])), "the list shows the Secret's %s", key)
		}

		// Another organization's bindings: exactly like a missing organization.
		expectProblem(call(http.MethodGet, "/v1/organizations/"+other.name+"/access", token, nil), http.StatusNotFound)
		expectProblem(call(http.MethodGet, "/v1/organizations/no-such-org/access", token, nil), http.StatusNotFound)
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name+"/access", "", nil), http.StatusUnauthorized)
		otherList := call(http.MethodGet, "/v1/organizations/"+other.name+"/access", tokensFor(other).AccessToken, nil)
		Expect(otherList.status).To(Equal(http.StatusOK))
		Expect(string(otherList.body)).To(ContainSubstring(`"name":"theirs"`))
		Expect(string(otherList.body)).NotTo(ContainSubstring(`"web"`))
	})
})
