//go:build integration

package restapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// claimsOf decodes a token's claims without verifying it.
func claimsOf(token string) jwt.MapClaims {
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(token, claims)
	Expect(err).NotTo(HaveOccurred())
	return claims
}

// forge signs claims with method and key, with the given header fields.
func forge(method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// forgeWithOurKey signs with the server's real current key, changing claims
// or header fields: only the change is wrong.
func forgeWithOurKey(valid string, header map[string]any, change func(jwt.MapClaims)) string {
	ks := signingKeys()
	key, err := ks.Signing()
	Expect(err).NotTo(HaveOccurred())
	claims := claimsOf(valid)
	change(claims)
	h := map[string]any{"kid": key.ID, "typ": "at+jwt"}
	for k, v := range header {
		h[k] = v
	}
	return forge(jwt.SigningMethodEdDSA, key.Private, h, claims)
}

// unchanged captures what a refused request must not alter.
type unchanged struct {
	name            string
	resourceVersion string
	admin           []bson.M
}

func snapshot(name string) unchanged {
	return unchanged{name: name, resourceVersion: getOrg(name).ResourceVersion, admin: adminRecords(name)}
}

func (u unchanged) check() {
	GinkgoHelper()
	Expect(getOrg(u.name).ResourceVersion).To(Equal(u.resourceVersion), "the Organization changed")
	Expect(adminRecords(u.name)).To(Equal(u.admin), "the admin record changed")
}

var _ = Describe("Bad inputs", func() {
	var (
		t     tenantOrg
		pair  restapi.TokenPair
		state unchanged
	)
	BeforeEach(func() {
		t = newTenant("bad")
		pair = tokensFor(t)
		state = snapshot(t.name)
	})

	DescribeTable("forged or invalid access tokens get one generic 401 and change nothing",
		func(makeToken func() string) {
			token := makeToken()
			for _, r := range []response{
				call(http.MethodGet, "/v1/organizations/"+t.name, token, nil),
				call(http.MethodPatch, "/v1/organizations/"+t.name, token, map[string]string{"displayName": "pwned"}),
				call(http.MethodDelete, "/v1/organizations/"+t.name, token, map[string]string{"currentPassword": t.password}),
			} {
				p := expectProblem(r, http.StatusUnauthorized)
				Expect(p["detail"]).To(Equal("missing, invalid, expired or revoked access token"))
				Expect(r.header.Get("WWW-Authenticate")).To(HavePrefix("Bearer"))
			}
			state.check()
		},
		Entry("alg none", func() string {
			return forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"typ": "at+jwt"}, claimsOf(pair.AccessToken))
		}),
		Entry("HS256 signed with the public key", func() string {
			key, _ := signingKeys().Signing()
			return forge(jwt.SigningMethodHS256, []byte(key.Public), map[string]any{"kid": key.ID, "typ": "at+jwt"}, claimsOf(pair.AccessToken))
		}),
		Entry("HS256 signed with the base64url public key (JWKS x)", func() string {
			key, _ := signingKeys().Signing()
			x := base64.RawURLEncoding.EncodeToString(key.Public)
			return forge(jwt.SigningMethodHS256, []byte(x), map[string]any{"kid": key.ID, "typ": "at+jwt"}, claimsOf(pair.AccessToken))
		}),
		Entry("unknown kid (a key of our own making)", func() string {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			return forge(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": "attacker-key", "typ": "at+jwt"}, claimsOf(pair.AccessToken))
		}),
		Entry("a real kid but signed by another key", func() string {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			key, _ := signingKeys().Signing()
			return forge(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": key.ID, "typ": "at+jwt"}, claimsOf(pair.AccessToken))
		}),
		Entry("wrong iss", func() string {
			return forgeWithOurKey(pair.AccessToken, nil, func(c jwt.MapClaims) { c["iss"] = "someone-else" })
		}),
		Entry("wrong aud", func() string {
			return forgeWithOurKey(pair.AccessToken, nil, func(c jwt.MapClaims) { c["aud"] = []string{"another-api"} })
		}),
		Entry("wrong typ (plain JWT)", func() string {
			return forgeWithOurKey(pair.AccessToken, map[string]any{"typ": "JWT"}, func(jwt.MapClaims) {})
		}),
		Entry("expired", func() string {
			return forgeWithOurKey(pair.AccessToken, nil, func(c jwt.MapClaims) {
				c["iat"], c["nbf"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
			})
		}),
		Entry("not yet valid", func() string {
			return forgeWithOurKey(pair.AccessToken, nil, func(c jwt.MapClaims) {
				c["nbf"], c["exp"] = time.Now().Add(10*time.Minute).Unix(), time.Now().Add(20*time.Minute).Unix()
			})
		}),
		Entry("tampered payload (signature of the original)", func() string {
			parts := strings.Split(pair.AccessToken, ".")
			claims := claimsOf(pair.AccessToken)
			claims["ver"] = 99
			payload, _ := json.Marshal(claims)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}),
		Entry("missing session claim", func() string {
			return forgeWithOurKey(pair.AccessToken, nil, func(c jwt.MapClaims) { delete(c, "sid") })
		}),
		Entry("garbage", func() string { return "not.a.token" }),
		Entry("empty bearer", func() string { return "" }),
	)

	It("answers a token of organization A on organization B exactly like a missing organization", func() {
		other := newTenant("victim")
		victim := snapshot(other.name)
		missing := call(http.MethodGet, "/v1/organizations/does-not-exist", pair.AccessToken, nil)
		pm := expectProblem(missing, http.StatusNotFound)
		for _, r := range []response{
			call(http.MethodGet, "/v1/organizations/"+other.name, pair.AccessToken, nil),
			call(http.MethodPatch, "/v1/organizations/"+other.name, pair.AccessToken, map[string]string{"displayName": "pwned"}),
			call(http.MethodDelete, "/v1/organizations/"+other.name, pair.AccessToken, map[string]string{"currentPassword": t.password}),
		} {
			p := expectProblem(r, http.StatusNotFound)
			Expect(p).To(Equal(pm))
		}
		victim.check()
		state.check()
	})

	It("refuses the token after logout, after a password change and after deletion", func() {
		Expect(call(http.MethodPost, "/v1/auth/logout", pair.AccessToken, nil).status).To(Equal(http.StatusNoContent))
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil), http.StatusUnauthorized)

		second := tokensFor(t)
		third := tokensFor(t)
		Expect(call(http.MethodPatch, "/v1/organizations/"+t.name, second.AccessToken,
			map[string]string{"password": "another fine password", "currentPassword": t.password}).status).To(Equal(http.StatusOK))
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, third.AccessToken, nil), http.StatusUnauthorized)

		t.password = "another fine password"
		fourth := tokensFor(t)
		fifth := tokensFor(t)
		Expect(call(http.MethodDelete, "/v1/organizations/"+t.name, fourth.AccessToken,
			map[string]string{"currentPassword": t.password}).status).To(Equal(http.StatusAccepted))
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, fifth.AccessToken, nil), http.StatusUnauthorized)
	})

	It("revokes the whole family when a used refresh token is presented again", func() {
		r := call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken})
		Expect(r.status).To(Equal(http.StatusOK))
		var next restapi.TokenPair
		Expect(json.Unmarshal(r.body, &next)).To(Succeed())

		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}), http.StatusUnauthorized)
		// The legitimate holder's newer tokens die with the family.
		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken}), http.StatusUnauthorized)
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, next.AccessToken, nil), http.StatusUnauthorized)
		state.check()
	})

	It("lets exactly one of two concurrent refreshes of one token win, then ends the session (reuse)", func() {
		var wg sync.WaitGroup
		results := make([]response, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				results[i] = call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken})
			}()
		}
		wg.Wait()
		statuses := []int{results[0].status, results[1].status}
		sort.Ints(statuses)
		Expect(statuses).To(Equal([]int{http.StatusOK, http.StatusUnauthorized}))
		winner := results[0]
		if winner.status != http.StatusOK {
			winner = results[1]
		}
		var won restapi.TokenPair
		Expect(json.Unmarshal(winner.body, &won)).To(Succeed())
		// The loser presented a used token: the family is revoked, the winner's pair too.
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, won.AccessToken, nil), http.StatusUnauthorized)
		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": won.RefreshToken}), http.StatusUnauthorized)
	})

	DescribeTable("malformed requests are 400 problems and reach nothing",
		func(method, path string, withToken bool, body string, detail string) {
			ts, counter := isolatedServer(apiCfg)
			token := ""
			if withToken {
				token = pair.AccessToken
			}
			p := expectProblem(callAt(ts.URL, method, strings.ReplaceAll(path, "NAME", t.name), token, body), http.StatusBadRequest)
			if detail != "" {
				Expect(json.Marshal(p)).To(ContainSubstring(detail))
			}
			if detail == "nothing to change" {
				Expect(counter.Writes()).To(BeZero(), "the request wrote to MongoDB")
			} else {
				Expect(counter.Count()).To(BeZero(), "a schema violation reached MongoDB")
			}
			state.check()
		},
		Entry("malformed JSON", http.MethodPost, "/v1/auth/login", false, `{"email": "a@b.example", "password": `, ""),
		Entry("unknown field", http.MethodPost, "/v1/auth/login", false, `{"email":"a@b.example","password":"x","admin":true}`, "unexpected property"),
		Entry("operator injection object in email", http.MethodPost, "/v1/auth/login", false, `{"email":{"$gt":""},"password":"x"}`, "expected string"),
		Entry("empty password", http.MethodPost, "/v1/auth/login", false, `{"email":"a@b.example","password":""}`, "body.password"),
		Entry("too long password (login)", http.MethodPost, "/v1/auth/login", false, `{"email":"a@b.example","password":"`+strings.Repeat("p", 129)+`"}`, "body.password"),
		Entry("too short new password", http.MethodPatch, "/v1/organizations/NAME", true, `{"password":"short"}`, "body.password"),
		Entry("too long new password", http.MethodPatch, "/v1/organizations/NAME", true, `{"password":"`+strings.Repeat("p", 129)+`"}`, "body.password"),
		Entry("a new email that is not an email", http.MethodPatch, "/v1/organizations/NAME", true, `{"adminEmail":"nope"}`, "body.adminEmail"),
		Entry("nothing to change", http.MethodPatch, "/v1/organizations/NAME", true, `{}`, "nothing to change"),
		Entry("unknown field in a patch", http.MethodPatch, "/v1/organizations/NAME", true, `{"deletionPolicy":"Delete"}`, "unexpected property"),
		Entry("refresh token of the wrong type", http.MethodPost, "/v1/auth/refresh", false, `{"refresh_token":["x"]}`, "expected string"),
		Entry("sign-up name that is not a DNS label", http.MethodPost, "/v1/organizations", false,
			`{"name":"Bad_Name","adminEmail":"x@y.example","password":"long enough password"}`, "body.name"),
	)

	It("never echoes a rejected value (it may be a password)", func() {
		r := call(http.MethodPost, "/v1/auth/login", "", `{"email":"a@b.example","password":"hunter2-secret","extra":1}`)
		expectProblem(r, http.StatusBadRequest)
		Expect(string(r.body)).NotTo(ContainSubstring("hunter2-secret"))
	})

	It("caps request bodies", func() {
		big := `{"email":"a@b.example","password":"` + strings.Repeat("x", 70<<10) + `"}`
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", big), http.StatusRequestEntityTooLarge)
	})

	It("gives a wrong email and a wrong password the same answer in similar time", func() {
		wrongPassword := func() response {
			return call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": "wrong password!"})
		}
		unknownEmail := func() response {
			return call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "nobody@" + t.name + ".example", "password": "wrong password!"})
		}
		a, b := wrongPassword(), unknownEmail()
		expectProblem(a, http.StatusUnauthorized)
		expectProblem(b, http.StatusUnauthorized)
		Expect(a.body).To(Equal(b.body))
		// Both verify one argon2id hash: similar times. Each side is the
		// median of five logins, each from a client network of its own, so
		// that no lockout (which answers before any hashing) skews them.
		networks := 0
		medianOf := func(body map[string]string) time.Duration {
			times := make([]time.Duration, 5)
			for i := range times {
				networks++
				start := time.Now()
				r, err := apiclient.DoWith(ctx, baseURL, http.MethodPost, "/v1/auth/login", "", body,
					http.Header{"X-Forwarded-For": {fmt.Sprintf("10.77.0.%d", networks)}})
				times[i] = time.Since(start)
				Expect(err).NotTo(HaveOccurred())
				Expect(r.Status).To(Equal(http.StatusUnauthorized))
			}
			slices.Sort(times)
			return times[len(times)/2]
		}
		ta := medianOf(map[string]string{"email": t.email, "password": "wrong password!"})
		tb := medianOf(map[string]string{"email": "nobody@" + t.name + ".example", "password": "wrong password!"})
		ratio := float64(ta) / float64(tb)
		Expect(ratio).To(BeNumerically(">", 0.33), "wrong password %s vs unknown email %s", ta, tb)
		Expect(ratio).To(BeNumerically("<", 3.0), "wrong password %s vs unknown email %s", ta, tb)
	})

	It("locks an account after repeated failures, logs it, and unlocks after the lock expires", func() {
		bad := map[string]string{"email": t.email, "password": "not the password"}
		for range apiCfg.Lockout.Threshold {
			expectProblem(call(http.MethodPost, "/v1/auth/login", "", bad), http.StatusUnauthorized)
		}
		good := map[string]string{"email": t.email, "password": t.password}
		r := call(http.MethodPost, "/v1/auth/login", "", good)
		expectProblem(r, http.StatusTooManyRequests)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
		state.check()
		// A lock on an unknown email looks the same (no account enumeration).
		unknown := map[string]string{"email": "ghost@" + t.name + ".example", "password": "x"}
		for range apiCfg.Lockout.Threshold {
			call(http.MethodPost, "/v1/auth/login", "", unknown)
		}
		Expect(call(http.MethodPost, "/v1/auth/login", "", unknown).status).To(Equal(http.StatusTooManyRequests))

		Eventually(func() int {
			return call(http.MethodPost, "/v1/auth/login", "", good).status
		}, apiCfg.Lockout.Base+5*time.Second, 500*time.Millisecond).Should(Equal(http.StatusOK))
	})

	It("answers 429 with Retry-After when password hashing is saturated, instead of queueing", func() {
		// A second server on the same cluster with a single hashing slot.
		c := apiCfg
		c.HashConcurrency = 1
		ts, _ := isolatedServer(c)
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		var retryAfter string
		for range 8 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				r := callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "load@" + t.name + ".example", "password": "x"})
				mu.Lock()
				statuses[r.status]++
				if r.status == http.StatusTooManyRequests {
					retryAfter = r.header.Get("Retry-After")
					Expect(r.header.Get("Content-Type")).To(Equal("application/problem+json"))
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		Expect(statuses[http.StatusTooManyRequests]).To(BeNumerically(">", 0), "statuses %v", statuses)
		Expect(retryAfter).To(Equal("1"))
	})

	It("refuses sign-up when disabled (403) and a duplicate sign-up (409)", func() {
		c := apiCfg
		c.Signup = restapi.SignupDisabled
		ts, _ := isolatedServer(c)
		body := map[string]string{"name": "closed-" + t.name, "adminEmail": "x@closed.example", "password": "long enough password"}
		expectProblem(callAt(ts.URL, http.MethodPost, "/v1/organizations", "", body), http.StatusForbidden)
		Expect(orgGone("closed-" + t.name)).To(BeTrue())

		dup := map[string]string{"name": t.name, "adminEmail": "x@dup.example", "password": "long enough password"}
		expectProblem(call(http.MethodPost, "/v1/organizations", "", dup), http.StatusConflict)
		sameEmail := map[string]string{"name": "taken-" + t.name, "adminEmail": t.email, "password": "long enough password"}
		expectProblem(call(http.MethodPost, "/v1/organizations", "", sameEmail), http.StatusConflict)
		Expect(orgGone("taken-" + t.name)).To(BeTrue())
		state.check()
	})

	It("refuses a new admin email used by another organization (409)", func() {
		other := newTenant("emailowner")
		r := call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken, map[string]string{"adminEmail": other.email, "currentPassword": t.password})
		expectProblem(r, http.StatusConflict)
		state.check()
	})

	It("refuses a rename to a taken name (409) and a rename combined with a password change (400)", func() {
		other := newTenant("namesake")
		expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken, map[string]string{"name": other.name, "currentPassword": t.password}), http.StatusConflict)
		expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"name": "fresh-" + t.name, "password": "a long new password"}), http.StatusBadRequest)
		Expect(orgGone("fresh-" + t.name)).To(BeTrue())
		state.check()
	})

	It("rate-limits login per client address", func() {
		c := apiCfg
		c.LoginRate, c.LoginBurst = 0.01, 2
		ts, _ := isolatedServer(c)
		body := map[string]string{"email": t.email, "password": t.password}
		Expect(callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", body).status).To(Equal(http.StatusOK))
		Expect(callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", body).status).To(Equal(http.StatusOK))
		r := callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", body)
		expectProblem(r, http.StatusTooManyRequests)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
	})
})

// isolatedServer serves the API on its own MongoDB connection, so the test
// can count exactly the commands its requests cause.
func isolatedServer(c restapi.Config) (*httptest.Server, *mongostore.CommandCounter) {
	_, ts, counter := isolated(c)
	return ts, counter
}

// isolatedAPI is isolatedServer for a test that also reaches into the server.
func isolatedAPI(c restapi.Config) (*restapi.Server, *httptest.Server) {
	srv, ts, _ := isolated(c)
	return srv, ts
}

func isolated(c restapi.Config) (*restapi.Server, *httptest.Server, *mongostore.CommandCounter) {
	counter := mongostore.NewCommandCounter()
	store := connectStore(counter)
	srv, err := restapi.New(c, restapi.Dependencies{Client: mgr.Manager.GetClient(), Reader: mgr.Manager.GetAPIReader(), Store: store, Log: suiteLogger})
	Expect(err).NotTo(HaveOccurred())
	ts := httptest.NewServer(srv.Handler())
	DeferCleanup(ts.Close)
	return srv, ts, counter
}
