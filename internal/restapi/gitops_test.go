//go:build integration

package restapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// argoCD is the field manager Argo CD applies with; it applies with
// --force-conflicts, so Git wins over any other manager.
const argoCD = "argocd-controller"

// kubectl runs kubectl against the suite's apiserver with manifest on stdin.
func kubectl(manifest string, args ...string) {
	GinkgoHelper()
	path, err := exec.LookPath("kubectl")
	Expect(err).NotTo(HaveOccurred(), "kubectl must be installed (Debian package kubectl)")
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, testEnv.Env.KubeConfig, 0o600)).To(Succeed())
	cmd := exec.Command(path, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(manifest)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	Expect(cmd.Run()).To(Succeed(), out.String())
}

// gitManifest is an Organization as a platform team keeps it in Git; the
// display name only when given.
func gitManifest(name, displayName string) string {
	m := fmt.Sprintf("apiVersion: tenancy.org-operator.io/v1alpha1\nkind: Organization\nmetadata:\n  name: %s\nspec:\n  admin:\n    email: admin@%s.example\n", name, name)
	if displayName != "" {
		m += "  displayName: " + displayName + "\n"
	}
	return m
}

// syncArgo applies the manifest the way Argo CD does with ServerSideApply.
func syncArgo(manifest string) {
	kubectl(manifest, "apply", "--server-side", "--force-conflicts", "--field-manager="+argoCD, "-f", "-")
}

// applyClientSide applies the manifest with plain kubectl apply.
func applyClientSide(manifest string) { kubectl(manifest, "apply", "-f", "-") }

// gitTenant declares an organization with apply, waits until it is Ready
// and logs its admin in.
func gitTenant(prefix, displayName string, apply func(string)) (tenantOrg, string) {
	seq++
	name := fmt.Sprintf("%s-%d", prefix, seq)
	apply(gitManifest(name, displayName))
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
	})
	waitReady(name)
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: name + "-admin"}, s)).To(Succeed())
	t := tenantOrg{name: name, email: string(s.Data["email"]), password: string(s.Data["password"])}
	return t, tokensFor(t).AccessToken
}

func patchOrg(t tenantOrg, token string, body map[string]string) response {
	return call(http.MethodPatch, "/v1/organizations/"+t.name, token, body)
}

// expectOwnedBy asserts a 409 naming manager and pointing to the manifest,
// and that the Organization's spec did not change.
func expectOwnedBy(r response, name, manager string, before *tenancyv1alpha1.Organization) {
	GinkgoHelper()
	p := expectProblem(r, http.StatusConflict)
	Expect(p["detail"]).To(ContainSubstring(`"`+manager+`"`), "the problem names the owner")
	Expect(p["detail"]).To(ContainSubstring("there"), "the problem says where to change it")
	after := getOrg(name)
	Expect(after.Spec).To(Equal(before.Spec))
	Expect(after.Generation).To(Equal(before.Generation))
}

// apiOwns reports whether the API's Apply entry owns the field (".spec.displayName").
func apiOwns(name, field string) bool {
	org := &tenancyv1alpha1.Organization{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
	for _, e := range org.ManagedFields {
		if e.Manager == tenancyv1alpha1.FieldManagerAPI && e.Operation == metav1.ManagedFieldsOperationApply && e.FieldsV1 != nil {
			parts := strings.Split(strings.TrimPrefix(field, "."), ".")
			needle := `"f:` + parts[len(parts)-1] + `"`
			return strings.Contains(e.FieldsV1.GetRawString(), needle)
		}
	}
	return false
}

var _ = Describe("GitOps: self-service writes that respect Git", func() {
	It("lets the tenant own a field Git leaves out, and the next sync keeps it", func() {
		t, token := gitTenant("git-omits", "", syncArgo)
		r := patchOrg(t, token, map[string]string{"displayName": "Named by the tenant"})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		Expect(apiOwns(t.name, ".spec.displayName")).To(BeTrue())

		syncArgo(gitManifest(t.name, "")) // Argo CD syncs again (self-heal)
		Expect(getOrg(t.name).Spec.DisplayName).To(Equal("Named by the tenant"))
		waitReady(t.name)

		r = patchOrg(t, token, map[string]string{"displayName": "Renamed again"})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		syncArgo(gitManifest(t.name, ""))
		Expect(getOrg(t.name).Spec.DisplayName).To(Equal("Renamed again"))
	})

	It("refuses, naming Argo CD, a field Git sets, and changes nothing", func() {
		t, token := gitTenant("git-sets", "From-Git", syncArgo)
		before := getOrg(t.name)
		expectOwnedBy(patchOrg(t, token, map[string]string{"displayName": "Tenant's choice"}), t.name, argoCD, before)
		expectOwnedBy(patchOrg(t, token, map[string]string{"adminEmail": "other@" + t.name + ".example", "currentPassword": t.password}),
			t.name, argoCD, before)
		Expect(adminRecords(t.name)).To(ConsistOf(HaveKeyWithValue("email", t.email)), "the admin record kept the email")
	})

	It("gives a field back to Git when Git starts setting it", func() {
		t, token := gitTenant("git-takes", "", syncArgo)
		Expect(patchOrg(t, token, map[string]string{"displayName": "Tenant-set"}).status).To(Equal(http.StatusOK))
		syncArgo(gitManifest(t.name, "Set-in-Git"))
		Expect(getOrg(t.name).Spec.DisplayName).To(Equal("Set-in-Git"))
		Expect(apiOwns(t.name, ".spec.displayName")).To(BeFalse())
		waitReady(t.name)
		expectOwnedBy(patchOrg(t, token, map[string]string{"displayName": "Tenant again"}), t.name, argoCD, getOrg(t.name))
	})

	It("works the same under client-side kubectl apply", func() {
		t, token := gitTenant("csa", "", applyClientSide)
		Expect(patchOrg(t, token, map[string]string{"displayName": "Tenant-set"}).status).To(Equal(http.StatusOK))
		applyClientSide(gitManifest(t.name, ""))
		Expect(getOrg(t.name).Spec.DisplayName).To(Equal("Tenant-set"), "a re-apply that leaves it out keeps it")
		waitReady(t.name)
		expectOwnedBy(patchOrg(t, token, map[string]string{"adminEmail": "other@" + t.name + ".example", "currentPassword": t.password}),
			t.name, "kubectl-client-side-apply", getOrg(t.name))

		applyClientSide(gitManifest(t.name, "Set-in-Git"))
		Expect(getOrg(t.name).Spec.DisplayName).To(Equal("Set-in-Git"))
		waitReady(t.name)
		expectOwnedBy(patchOrg(t, token, map[string]string{"displayName": "Tenant again"}), t.name, "kubectl-client-side-apply", getOrg(t.name))
	})

	It("refuses to rename or delete an organization Git declares, and the tenant's session survives", func() {
		t, token := gitTenant("git-keeps", "", syncArgo)
		before := getOrg(t.name)
		r := patchOrg(t, token, map[string]string{"name": t.name + "-new", "currentPassword": t.password})
		p := expectProblem(r, http.StatusConflict)
		Expect(p["detail"]).To(And(ContainSubstring(`"`+argoCD+`"`), ContainSubstring("rename it there")))
		Expect(orgGone(t.name+"-new")).To(BeTrue(), "no second organization was created")

		r = call(http.MethodDelete, "/v1/organizations/"+t.name, token, map[string]string{"currentPassword": t.password})
		p = expectProblem(r, http.StatusConflict)
		Expect(p["detail"]).To(And(ContainSubstring(`"`+argoCD+`"`), ContainSubstring("delete it there")))
		after := getOrg(t.name)
		Expect(after.DeletionTimestamp).To(BeNil())
		Expect(after.UID).To(Equal(before.UID))
		Expect(call(http.MethodGet, "/v1/organizations/"+t.name, token, nil).status).To(Equal(http.StatusOK), "the session still works")
	})

	It("keeps every field, renames and deletions for organizations the API created (sign-up)", func() {
		seq++
		name := fmt.Sprintf("signed-%d", seq)
		pw := "signup password 123"
		r := call(http.MethodPost, "/v1/organizations", "", map[string]string{"name": name, "adminEmail": "owner@" + name + ".example", "password": pw})
		Expect(r.status).To(BeElementOf(http.StatusCreated, http.StatusAccepted), string(r.body))
		DeferCleanup(func() {
			for _, n := range []string{name, name + "-renamed"} {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: n}}))).To(Succeed())
			}
		})
		waitReady(name)
		t := tenantOrg{name: name, email: "owner@" + name + ".example", password: pw}
		token := tokensFor(t).AccessToken

		r = patchOrg(t, token, map[string]string{"displayName": "Mine", "adminEmail": "me@" + name + ".example", "currentPassword": pw})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		org := getOrg(name)
		Expect(org.Spec.DisplayName).To(Equal("Mine"))
		Expect(org.Labels).To(HaveKeyWithValue(tenancyv1alpha1.LabelCreatedBy, tenancyv1alpha1.CreatedBySignup), "the API's own label survives its apply")
		Expect(apiOwns(name, ".spec.admin.email")).To(BeTrue())
		for _, e := range org.ManagedFields {
			if e.Manager == tenancyv1alpha1.FieldManagerAPI && e.Subresource == "" {
				Expect(e.Operation).To(Equal(metav1.ManagedFieldsOperationApply), "the create's Update entry was upgraded")
			}
		}

		t.email = "me@" + name + ".example"
		r = patchOrg(t, token, map[string]string{"name": name + "-renamed", "currentPassword": pw})
		Expect(r.status).To(BeElementOf(http.StatusOK, http.StatusAccepted), string(r.body))
		waitReady(name + "-renamed")
		t.name = name + "-renamed"
		token = tokensFor(t).AccessToken
		r = call(http.MethodDelete, "/v1/organizations/"+t.name, token, map[string]string{"currentPassword": pw})
		Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
		Eventually(func() bool { return orgGone(t.name) }, timeout, interval).Should(BeTrue())
	})
})
