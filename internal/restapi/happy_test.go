//go:build integration

package restapi_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/restapi"
)

var _ = Describe("Happy paths", func() {
	It("logs in, reads its organization, refreshes and logs out", func() {
		t := newTenant("happy")
		pair := tokensFor(t)
		Expect(pair.TokenType).To(Equal("Bearer"))
		Expect(pair.ExpiresIn).To(Equal(int(apiCfg.AccessTokenTTL.Seconds())))
		Expect(pair.Organization).To(Equal(t.name))
		Expect(pair.RefreshToken).NotTo(BeEmpty())

		r := call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil)
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		var org restapi.Organization
		Expect(json.Unmarshal(r.body, &org)).To(Succeed())
		Expect(org.Name).To(Equal(t.name))
		Expect(org.AdminEmail).To(Equal(t.email))
		Expect(org.Ready).To(BeTrue())
		Expect(org.Collection).To(Equal("org_" + t.name))
		Expect(org.Database).To(Equal("orgs"))
		Expect(org.Tenancy).To(Equal("Dedicated"))
		Expect(org.Conditions).NotTo(BeEmpty())
		Expect(org.CreatedAt).NotTo(BeZero())
		Expect(r.header.Get("Cache-Control")).To(Equal("no-store"))
		Expect(r.header.Get("X-Content-Type-Options")).To(Equal("nosniff"))

		r = call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		var next restapi.TokenPair
		Expect(json.Unmarshal(r.body, &next)).To(Succeed())
		Expect(next.RefreshToken).NotTo(Equal(pair.RefreshToken))
		Expect(call(http.MethodGet, "/v1/organizations/"+t.name, next.AccessToken, nil).status).To(Equal(http.StatusOK))

		Expect(call(http.MethodPost, "/v1/auth/logout", next.AccessToken, nil).status).To(Equal(http.StatusNoContent))
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, next.AccessToken, nil), http.StatusUnauthorized)
		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken}), http.StatusUnauthorized)
	})

	It("changes the display name and admin email through the Kubernetes API", func() {
		t := newTenant("patch")
		pair := tokensFor(t)
		newEmail := "boss@" + t.name + ".example"
		r := call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"displayName": "Renamed Inc", "adminEmail": newEmail, "currentPassword": t.password})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		var org restapi.Organization
		Expect(json.Unmarshal(r.body, &org)).To(Succeed())
		Expect(org.DisplayName).To(Equal("Renamed Inc"))
		Expect(org.Ready).To(BeTrue())
		got := getOrg(t.name)
		Expect(got.Spec.DisplayName).To(Equal("Renamed Inc"))
		Expect(got.Spec.Admin.Email).To(Equal(newEmail))
		// In effect on return: the new email logs in, the old one does not.
		Expect(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": newEmail, "password": t.password}).status).To(Equal(http.StatusOK))
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.password}), http.StatusUnauthorized)
	})

	It("changes the password: on return the new one works and the old one and earlier tokens do not", func() {
		t := newTenant("password")
		pair := tokensFor(t)
		const newPassword = "a much better password 2026"
		r := call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"password": newPassword, "currentPassword": t.password})
		Expect(r.status).To(Equal(http.StatusOK), string(r.body))

		// The credentials Secret keeps only an argon2id hash of the chosen
		// password: no tenant-chosen password is kept in clear.
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: t.name + "-admin"}, s)).To(Succeed())
		Expect(s.Data).NotTo(HaveKey("password"), "the generated password stays after a change")
		Expect(string(s.Data["passwordHash"])).To(HavePrefix("$argon2id$"))
		ok, _ := password.Verify(newPassword, string(s.Data["passwordHash"]))
		Expect(ok).To(BeTrue())
		Expect(adminRecords(t.name)).To(ConsistOf(HaveKeyWithValue("passwordHash", string(s.Data["passwordHash"]))),
			"the admin record takes the API's hash as it is")

		Expect(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": newPassword}).status).To(Equal(http.StatusOK))
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.password}), http.StatusUnauthorized)
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil), http.StatusUnauthorized)
		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}), http.StatusUnauthorized)
	})

	It("deletes the organization: 202, its tokens stop at once, the Organization goes", func() {
		t := newTenant("bye")
		pair := tokensFor(t)
		other := tokensFor(t) // a second session of the same admin
		r := call(http.MethodDelete, "/v1/organizations/"+t.name, pair.AccessToken, map[string]string{"currentPassword": t.password})
		Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, other.AccessToken, nil), http.StatusUnauthorized)
		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}), http.StatusUnauthorized)
		Eventually(func() bool { return orgGone(t.name) }, timeout, interval).Should(BeTrue())
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.password}), http.StatusUnauthorized)
	})

	It("signs up a new organization when sign-up is open", func() {
		seq++
		name := "signup-" + strings.Repeat("x", 3) + "-" + time.Now().Format("150405")
		body := map[string]string{"name": name, "displayName": "Signed Up", "adminEmail": "owner@" + name + ".example", "password": "signup password 123"}
		r := call(http.MethodPost, "/v1/organizations", "", body)
		Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
		Expect(r.header.Get("Location")).To(Equal("/v1/organizations/" + name))
		DeferCleanup(func() { _ = k8s.Delete(ctx, getOrg(name)) })
		org := waitReady(name)
		Expect(org.Spec.Admin.PasswordSecretRef.Name).To(Equal(tenancyv1alpha1.SignupSecretName(name)))
		login := call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": body["adminEmail"], "password": body["password"]})
		Expect(login.status).To(Equal(http.StatusOK))
	})

	It("serves the JWKS, health, OpenAPI and docs", func() {
		r := call(http.MethodGet, "/.well-known/jwks.json", "", nil)
		Expect(r.status).To(Equal(http.StatusOK))
		keys := r.json()["keys"].([]any)
		Expect(keys).NotTo(BeEmpty())
		k := keys[0].(map[string]any)
		Expect(k["kty"]).To(Equal("OKP"))
		Expect(k["crv"]).To(Equal("Ed25519"))
		Expect(k["alg"]).To(Equal("EdDSA"))
		Expect(call(http.MethodGet, "/healthz", "", nil).status).To(Equal(http.StatusOK))
		Expect(call(http.MethodGet, "/readyz", "", nil).status).To(Equal(http.StatusOK))
		Expect(call(http.MethodGet, "/openapi.json", "", nil).json()["openapi"]).To(Equal("3.1.0"))
		y := call(http.MethodGet, "/openapi.yaml", "", nil)
		Expect(y.status).To(Equal(http.StatusOK))
		Expect(string(y.body)).To(ContainSubstring("openapi: 3.1.0"))
		Expect(call(http.MethodGet, "/docs", "", nil).status).To(Equal(http.StatusOK))
	})
})

var _ = Describe("Metrics", func() {
	// metric sums the samples of a metric family whose labels include want.
	metric := func(name string, want map[string]string) float64 {
		families, err := mgr.Metrics.Gather()
		Expect(err).NotTo(HaveOccurred())
		total := 0.0
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
		samples:
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				for k, v := range want {
					if labels[k] != v {
						continue samples
					}
				}
				if c := m.GetCounter(); c != nil {
					total += c.GetValue()
				}
				if h := m.GetHistogram(); h != nil {
					total += float64(h.GetSampleCount())
				}
			}
		}
		return total
	}

	It("counts logins by result and times requests by route and status", func() {
		t := newTenant("metrics")
		success := metric("org_operator_api_logins_total", map[string]string{"result": "success"})
		failure := metric("org_operator_api_logins_total", map[string]string{"result": "failure"})
		timed := metric("org_operator_api_request_duration_seconds", map[string]string{"route": "/v1/auth/login", "method": "POST", "status": "401"})

		tokensFor(t)
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": "wrong password"}), http.StatusUnauthorized)

		Expect(metric("org_operator_api_logins_total", map[string]string{"result": "success"})).To(Equal(success + 1))
		Expect(metric("org_operator_api_logins_total", map[string]string{"result": "failure"})).To(Equal(failure + 1))
		Expect(metric("org_operator_api_request_duration_seconds",
			map[string]string{"route": "/v1/auth/login", "method": "POST", "status": "401"})).To(Equal(timed + 1))
	})
})

var _ = Describe("Readiness of the listener", func() {
	It("reports not listening before Start listens and after it returns, listening in between", func() {
		cfg := restapi.DefaultConfig()
		cfg.CredentialsNamespace, cfg.SigningKeysNamespace = credNS, operatorNS
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		cfg.BindAddress = l.Addr().String()
		Expect(l.Close()).To(Succeed())
		srv, err := restapi.New(cfg, restapi.Dependencies{Client: k8s, Store: connectStore(nil), Log: suiteLogger})
		Expect(err).NotTo(HaveOccurred())
		Expect(srv.Listening()).To(MatchError(restapi.ErrNotListening))

		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Start(runCtx) }()
		Eventually(srv.Listening, timeout, interval).Should(Succeed())
		conn, err := net.Dial("tcp", cfg.BindAddress)
		Expect(err).NotTo(HaveOccurred(), "listening reported before the listener accepts connections")
		Expect(conn.Close()).To(Succeed())

		stop()
		Eventually(done, timeout).Should(Receive(BeNil()))
		Expect(srv.Listening()).To(MatchError(restapi.ErrNotListening))
	})
})
