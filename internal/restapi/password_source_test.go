//go:build integration

package restapi_test

import (
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
)

// A password change through the API writes only a Secret the organization
// owns (its generated <name>-admin, or a sign-up's <name>-signup); a
// passwordSecretRef Secret the platform keeps (External Secrets, Sealed
// Secrets, Git) is the platform's, and the API refuses to write it.
var _ = Describe("Password changes and the password's source", func() {
	login := func(email, pw string) int {
		return call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": pw}).status
	}

	It("refuses (409, naming the Secret) to change a password the platform keeps in a Secret of its own, and changes nothing", func() {
		seq++
		name := fmt.Sprintf("platform-pw-%d", seq)
		const platformPassword, wanted = "the platform's password 2026", "the tenant's new password 2026"
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name + "-password",
			Labels: map[string]string{tenancyv1alpha1.LabelOrganization: name}},
			StringData: map[string]string{"password": platformPassword}}
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(ctx, secret) })
		org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example",
				PasswordSecretRef: &tenancyv1alpha1.SecretKeyRef{Name: secret.Name, Key: "password"}}}}
		Expect(k8s.Create(ctx, org)).To(Succeed())
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, org)) })
		waitReady(name)
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		before, record := secret.ResourceVersion, adminRecords(name)

		pair := tokensFor(tenantOrg{name: name, email: org.Spec.Admin.Email, password: platformPassword})
		r := call(http.MethodPatch, "/v1/organizations/"+name, pair.AccessToken,
			map[string]string{"password": wanted, "currentPassword": platformPassword})
		problem := expectProblem(r, http.StatusConflict)
		Expect(problem["detail"]).To(ContainSubstring("managed by the platform"))
		Expect(problem["detail"]).To(ContainSubstring(credNS + "/" + secret.Name))

		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		Expect(secret.ResourceVersion).To(Equal(before), "the platform's Secret was written")
		Expect(string(secret.Data["password"])).To(Equal(platformPassword))
		Expect(adminRecords(name)).To(Equal(record), "the admin record changed")
		Expect(login(org.Spec.Admin.Email, platformPassword)).To(Equal(http.StatusOK))
		Expect(login(org.Spec.Admin.Email, wanted)).To(Equal(http.StatusUnauthorized))
		Expect(call(http.MethodGet, "/v1/organizations/"+name, pair.AccessToken, nil).status).To(Equal(http.StatusOK),
			"a refused change revokes no session")
	})

	It("changes the password of a sign-up, whose passwordSecretRef Secret the organization owns", func() {
		t := signedUp("signup-pw", "the first password 2026")
		Expect(waitReady(t.name).Spec.Admin.PasswordSecretRef.Name).To(Equal(tenancyv1alpha1.SignupSecretName(t.name)))

		const wanted = "the second password 2026"
		pair := tokensFor(t)
		r := call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"password": wanted, "currentPassword": t.password})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.SignupSecretName(t.name)}, s)).To(Succeed())
		ok, err := password.Verify(wanted, string(s.Data["passwordHash"]))
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue(), "the sign-up Secret holds the new password's hash")
		Expect(login(t.email, wanted)).To(Equal(http.StatusOK))
		Expect(login(t.email, t.password)).To(Equal(http.StatusUnauthorized))
	})
})
