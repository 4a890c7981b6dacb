//go:build integration

package restapi_test

import (
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// A sign-up can claim a free name that the platform declares in Git later
// (issue 20, finding 1). The platform's declaration wins, and everything the
// sign-up brought is voided: its password Secret, its sessions, its label,
// the display name only it set; the admin gets a generated password in
// <name>-admin and a higher credentialsVersion.

// applyFlux applies the manifest as Flux's kustomize-controller does:
// server-side, forced, under its field manager, with its labels.
func applyFlux(manifest string) {
	kubectl(manifest, "apply", "--server-side", "--force-conflicts", "--field-manager=kustomize-controller", "-f", "-")
}

// fluxManifest is gitManifest with the labels Flux puts on what it applies.
func fluxManifest(name string) string {
	return fmt.Sprintf("apiVersion: tenancy.org-operator.io/v1alpha1\nkind: Organization\nmetadata:\n  name: %s\n  labels:\n"+
		"    kustomize.toolkit.fluxcd.io/name: tenants\n    kustomize.toolkit.fluxcd.io/namespace: flux-system\n"+
		"spec:\n  admin:\n    email: admin@%s.example\n", name, name)
}

// adminRecord reads an organization's admin record with the suite's
// independent MongoDB client.
func adminRecord(organization string) bson.M {
	GinkgoHelper()
	records := adminRecords(organization)
	Expect(records).To(HaveLen(1), "one admin record for %s", organization)
	return records[0]
}

// eventsAbout lists the reasons of the events recorded about an organization.
func eventsAbout(name string) []string {
	var list eventsv1.EventList
	Expect(k8s.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Organization" && e.Regarding.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

var _ = Describe("Sign-up and Git: the platform's declaration outranks a sign-up", func() {
	DescribeTable("a platform apply of a signed-up name voids everything the sign-up brought",
		func(prefix string, apply func(string), manifest func(string) string) {
			seq++
			name := fmt.Sprintf("%s-%d", prefix, seq)
			squatter := signupBody(name, "squatter@evil.example", "squatter password 1")
			squatter["displayName"] = name + " Official Support"
			r := call(http.MethodPost, "/v1/organizations", "", squatter)
			Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
			DeferCleanup(func() {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
			})
			squat := tenantOrg{name: name, email: squatter["adminEmail"], password: squatter["password"]}
			pair := tokensFor(squat)
			Expect(call(http.MethodGet, "/v1/organizations/"+name, pair.AccessToken, nil).status).To(Equal(http.StatusOK))
			versionBefore := adminRecord(name)["credentialsVersion"]

			apply(manifest(name)) // the platform declares the real tenant

			var org *tenancyv1alpha1.Organization
			Eventually(func(g Gomega) {
				org = getOrg(name)
				g.Expect(org.Labels).NotTo(HaveKey(tenancyv1alpha1.LabelCreatedBy), "the sign-up label is removed")
				g.Expect(org.Spec.Admin.PasswordSecretRef).To(BeNil(), "the sign-up's password Secret is no longer the password source")
				g.Expect(org.Status.CredentialsSecretRef).NotTo(BeNil())
				g.Expect(org.Status.CredentialsSecretRef.Name).To(Equal(name + "-admin"))
			}, timeout, interval).Should(Succeed())
			org = waitReady(name)
			Expect(org.Spec.DisplayName).To(BeEmpty(), "a display name only the sign-up set is voided")
			err := k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: name + "-signup"}, &corev1.Secret{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the sign-up Secret is deleted: %v", err)

			// The squatter has nothing left.
			expectProblem(call(http.MethodGet, "/v1/organizations/"+name, pair.AccessToken, nil), http.StatusUnauthorized)
			expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}),
				http.StatusUnauthorized)
			for _, email := range []string{squat.email, "admin@" + name + ".example"} {
				expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": squat.password}),
					http.StatusUnauthorized)
			}

			// The platform's admin logs in with the generated password.
			s := &corev1.Secret{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: name + "-admin"}, s)).To(Succeed())
			Expect(s.Data["email"]).To(BeEquivalentTo("admin@" + name + ".example"))
			real := tenantOrg{name: name, email: string(s.Data["email"]), password: string(s.Data["password"])}
			Expect(call(http.MethodGet, "/v1/organizations/"+name, tokensFor(real).AccessToken, nil).status).To(Equal(http.StatusOK))
			record := adminRecord(name)
			Expect(record["email"]).To(Equal(real.email))
			Expect(record["credentialsVersion"]).To(BeNumerically(">", versionBefore), "credentialsVersion is raised")
			Expect(eventsAbout(name)).To(ContainElement("SignupTakenOver"))
		},
		Entry("server-side apply as Argo CD", "argo-squat", syncArgo, func(n string) string { return gitManifest(n, "") }),
		Entry("client-side kubectl apply", "csa-squat", applyClientSide, func(n string) string { return gitManifest(n, "") }),
		Entry("Flux-style apply (kustomize-controller, forced, Flux's labels)", "flux-squat", applyFlux, fluxManifest),
	)

	It("voids the sign-up also when Git declares exactly the sign-up's spec (no field changes, no new generation)", func() {
		seq++
		name := fmt.Sprintf("same-spec-%d", seq)
		email := "admin@" + name + ".example"
		r := call(http.MethodPost, "/v1/organizations", "", signupBody(name, email, "squatter password 2"))
		Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
		})
		squat := tenantOrg{name: name, email: email, password: "squatter password 2"}
		token := tokensFor(squat).AccessToken
		generation := getOrg(name).Generation

		kubectl(gitManifest(name, ""), "apply", "--server-side", "--field-manager="+argoCD, "-f", "-")
		Eventually(func(g Gomega) {
			g.Expect(getOrg(name).Labels).NotTo(HaveKey(tenancyv1alpha1.LabelCreatedBy))
		}, timeout, interval).Should(Succeed())
		org := waitReady(name)
		Expect(org.Generation).To(BeNumerically(">", generation), "the voided password reference is a spec change")
		expectProblem(call(http.MethodGet, "/v1/organizations/"+name, token, nil), http.StatusUnauthorized)
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": squat.password}),
			http.StatusUnauthorized)
	})

	It("leaves a sign-up alone when the platform only labels or annotates it", func() {
		seq++
		name := fmt.Sprintf("labelled-%d", seq)
		body := signupBody(name, "owner@"+name+".example", "owner password 12")
		Expect(call(http.MethodPost, "/v1/organizations", "", body).status).To(Equal(http.StatusCreated))
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
		})
		owner := tenantOrg{name: name, email: body["adminEmail"], password: body["password"]}
		token := tokensFor(owner).AccessToken
		kubectl("", "label", "organization", name, "team=payments")
		kubectl("", "annotate", "organization", name, "example.com/owner=payments")
		Consistently(func(g Gomega) {
			org := getOrg(name)
			g.Expect(org.Labels).To(HaveKeyWithValue(tenancyv1alpha1.LabelCreatedBy, tenancyv1alpha1.CreatedBySignup))
			g.Expect(org.Spec.Admin.PasswordSecretRef).NotTo(BeNil())
		}, "2s", interval).Should(Succeed())
		Expect(call(http.MethodGet, "/v1/organizations/"+name, token, nil).status).To(Equal(http.StatusOK))
		Expect(eventsAbout(name)).NotTo(ContainElement("SignupTakenOver"))
	})
})
