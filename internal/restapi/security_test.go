//go:build integration

package restapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
)

// The findings of the security review (issue 15), one named spec each,
// over real HTTP against the real apiserver, FerretDB and controller.

// stalledWith waits until the organization is Stalled with reason.
func stalledWith(name, reason string) *tenancyv1alpha1.Organization {
	var org *tenancyv1alpha1.Organization
	Eventually(func(g Gomega) {
		org = getOrg(name)
		c := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(reason), c.Message)
	}, timeout, interval).Should(Succeed())
	return org
}

func signupBody(name, email, pw string) map[string]string {
	return map[string]string{"name": name, "adminEmail": email, "password": pw}
}

var _ = Describe("Security findings", func() {
	It("a sign-up with a deleted Retain organization's name does not get its data; the platform adopts it explicitly", func() {
		seq++
		name := fmt.Sprintf("kept-%d", seq)
		old := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"},
				DeletionPolicy: tenancyv1alpha1.DeletionPolicyRetain}}
		Expect(k8s.Create(ctx, old)).To(Succeed())
		waitReady(name)
		oldUID := string(getOrg(name).UID)
		for i := range 5 {
			Expect(writer.InsertMany(ctx, "org_"+name, []any{bson.D{{Key: "_id", Value: fmt.Sprintf("doc-%d", i)}, {Key: "secret", Value: i}}})).To(Succeed())
		}
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		Eventually(func() bool { return orgGone(name) }, timeout, interval).Should(BeTrue())

		// The attacker signs up with the retained organization's name.
		body := signupBody(name, "attacker@evil.example", "attacker password 1")
		r := call(http.MethodPost, "/v1/organizations", "", body)
		Expect(r.status).To(Equal(http.StatusAccepted), "a stalled sign-up is accepted, never Ready: %s", r.body)
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, getOrg(name))) })
		org := stalledWith(name, tenancyv1alpha1.ReasonRetainedDataExists)
		Expect(meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring(oldUID))
		// The platform sees whose data it is; the anonymous caller does not.
		Expect(string(r.body)).To(ContainSubstring(tenancyv1alpha1.ReasonRetainedDataExists), "the answer shows the stalled state")
		Expect(string(r.body)).NotTo(ContainSubstring(oldUID), "the sign-up caller saw the retained tenant's UID")
		Expect(org.Status.Collection).To(BeEmpty(), "the stalled organization was given a place")
		// Its admin cannot read anything: there is no admin account to log in with.
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": body["adminEmail"], "password": body["password"]}),
			http.StatusUnauthorized)
		Consistently(func() (int64, error) { return reader.Count(ctx, "org_"+name, nil) }, "2s", interval).Should(Equal(int64(5)))

		// The platform adopts the retained data by naming its old UID.
		org = getOrg(name)
		org.Annotations = map[string]string{tenancyv1alpha1.AnnotationAdoptData: oldUID}
		Expect(k8s.Update(ctx, org)).To(Succeed())
		org = waitReady(name)
		Expect(org.Status.Collection).To(Equal("org_" + name))
		Expect(reader.Count(ctx, "org_"+name, nil)).To(Equal(int64(5)), "the adopted data is all there")
		Expect(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": body["adminEmail"], "password": body["password"]}).status).
			To(Equal(http.StatusOK))
	})

	It("a sign-up is never a restore: it does not get the data of an organization whose deletion was never processed", func() {
		// Issue 20: the restore path took over any active ledger entry of the
		// same name, e.g. of an Organization whose finalizer was removed
		// while the manager was down.
		seq++
		name := fmt.Sprintf("lost-%d", seq)
		kubeSystem := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, kubeSystem)).To(Succeed()) // the cluster id
		now := time.Now().UTC()
		Expect(writer.InsertMany(ctx, "tenants", []any{bson.D{{Key: "_id", Value: "org_" + name}, {Key: "collection", Value: "org_" + name},
			{Key: "name", Value: name}, {Key: "uid", Value: "uid-of-the-lost-one"}, {Key: "cluster", Value: string(kubeSystem.UID)},
			{Key: "state", Value: "active"}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}}})).To(Succeed())
		seedDocs("org_"+name, 3)

		body := signupBody(name, "attacker@"+name+".example", "attacker password 2")
		r := call(http.MethodPost, "/v1/organizations", "", body)
		Expect(r.status).To(Equal(http.StatusAccepted), "a stalled sign-up is accepted, never Ready: %s", r.body)
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, getOrg(name))) })
		org := stalledWith(name, tenancyv1alpha1.ReasonRetainedDataExists)
		Expect(org.Status.Collection).To(BeEmpty())
		expectProblem(call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": body["adminEmail"], "password": body["password"]}),
			http.StatusUnauthorized)
		Expect(countDocs("org_" + name)).To(Equal(3))
		var entries []bson.M
		Expect(reader.Decode(ctx, "tenants", bson.D{{Key: "_id", Value: "org_" + name}}, &entries)).To(Succeed())
		Expect(entries).To(HaveLen(1))
		Expect(entries[0]["uid"]).To(Equal("uid-of-the-lost-one"), "the ledger still names the lost organization")
		Expect(entries[0]["state"]).To(Equal("active"))
	})

	It("60 concurrent password changes stay within the hashing cap: memory does not grow with them", func() {
		t := newTenant("burst")
		pair := tokensFor(t)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		heap := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
		var peak uint64
		base := heap()
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					peak = max(peak, heap())
				}
			}
		})
		var wg sync.WaitGroup
		statuses := make([]int, 60)
		for i := range statuses {
			wg.Go(func() {
				defer GinkgoRecover()
				r := call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
					map[string]string{"password": fmt.Sprintf("burst password number %d", i), "currentPassword": t.password})
				statuses[i] = r.status
			})
		}
		wg.Wait()
		close(stop)
		sampler.Wait()
		busy := 0
		for _, s := range statuses {
			Expect(s).To(BeNumerically("<", 500), "statuses %v", statuses)
			if s == http.StatusTooManyRequests {
				busy++
			}
		}
		Expect(busy).To(BeNumerically(">", 0), "60 concurrent hashes were all admitted: %v", statuses)
		growth := float64(peak-base) / (1 << 20)
		GinkgoWriter.Printf("heap grew by %.0f MiB at peak for 60 concurrent password changes (%d answered 429)\n", growth, busy)
		// The process hashes at most HashConcurrency (2) at once, 19 MiB each;
		// unbounded, 60 would take over 1 GiB.
		Expect(growth).To(BeNumerically("<", float64(apiCfg.HashConcurrency+2)*19+48))
	})

	It("a sign-up with a display-name email form is refused (400) and creates nothing", func() {
		seq++
		for i, email := range []string{"<admin@acme.example>", "Admin <admin@acme.example>", "x@y"} {
			name := fmt.Sprintf("bad-email-%d-%d", seq, i)
			r := call(http.MethodPost, "/v1/organizations", "", signupBody(name, email, "long enough password"))
			p := expectProblem(r, http.StatusBadRequest)
			Expect(p["detail"]).To(ContainSubstring("adminEmail"))
			Expect(orgGone(name)).To(BeTrue())
			err := k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.SignupSecretName(name)}, &corev1.Secret{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a -signup Secret was left for %q", email)
		}
	})

	It("a sign-up never leaves or overwrites a -signup Secret: a leftover one is a 409 and stays as it was", func() {
		seq++
		name := fmt.Sprintf("leftover-%d", seq)
		leftover := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: tenancyv1alpha1.SignupSecretName(name)},
			StringData: map[string]string{"password": "someone else's"}}
		Expect(k8s.Create(ctx, leftover)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(ctx, leftover) })
		expectProblem(call(http.MethodPost, "/v1/organizations", "", signupBody(name, "owner@"+name+".example", "long enough password")),
			http.StatusConflict)
		Eventually(func() bool { return orgGone(name) }, timeout, interval).Should(BeTrue(), "the Organization of a failed sign-up stayed")
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(leftover), s)).To(Succeed())
		Expect(string(s.Data["password"])).To(Equal("someone else's"))
		Expect(s.OwnerReferences).To(BeEmpty())
	})

	It("keeps a chosen password only as an argon2id hash (sign-up and change)", func() {
		t := signedUp("hashed", "a chosen password 1")
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.SignupSecretName(t.name)}, s)).To(Succeed())
		Expect(s.Data).To(HaveLen(1))
		Expect(string(s.Data["passwordHash"])).To(HavePrefix("$argon2id$"))
		Expect(string(s.Data["passwordHash"])).NotTo(ContainSubstring(t.password))
		Expect(metav1.IsControlledBy(s, getOrg(t.name))).To(BeTrue(), "the sign-up Secret goes with its Organization")
	})

	DescribeTable("the controller refuses a password hash at another cost than its own",
		func(prefix, from, to string) {
			seq++
			name := fmt.Sprintf("%s-%d", prefix, seq)
			ok, err := password.Hash("a chosen password", password.DefaultParams)
			Expect(err).NotTo(HaveOccurred())
			other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name + "-pw",
				Labels: map[string]string{tenancyv1alpha1.LabelOrganization: name}},
				StringData: map[string]string{"passwordHash": strings.Replace(ok, from, to, 1)}}
			Expect(k8s.Create(ctx, other)).To(Succeed())
			DeferCleanup(func() { _ = k8s.Delete(ctx, other) })
			org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example",
					PasswordSecretRef: &tenancyv1alpha1.SecretKeyRef{Name: name + "-pw"}}}}
			Expect(k8s.Create(ctx, org)).To(Succeed())
			DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, org)) })
			org = stalledWith(name, tenancyv1alpha1.ReasonInvalidPasswordHash)
			Expect(meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionStalled).Message).To(ContainSubstring("exactly m=19456"))
			Expect(adminRecords(name)).To(BeEmpty(), "an admin record was written with that hash")
		},
		Entry("4 GiB per verification", "greedy", "m=19456", "m=4194304"),
		// Issue 20: within what a verification may cost, but login time would
		// tell the account apart from an unknown email (whose dummy hash has
		// the operator's cost).
		Entry("32 MiB: costlier than every other login", "costly", "m=19456", "m=32768"),
		Entry("three iterations", "slower", "t=2", "t=3"),
	)

	It("changing the password or the email, and deleting, need the current password", func() {
		t := newTenant("current")
		pair := tokensFor(t)
		state := snapshot(t.name)
		p := expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"password": "a new password 123"}), http.StatusBadRequest)
		Expect(p["detail"]).To(ContainSubstring("currentPassword"))
		expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"adminEmail": "new@" + t.name + ".example", "currentPassword": "not the password"}), http.StatusForbidden)
		expectProblem(call(http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"password": "a new password 123", "currentPassword": "not the password"}), http.StatusForbidden)
		expectProblem(call(http.MethodDelete, "/v1/organizations/"+t.name, pair.AccessToken,
			map[string]string{"currentPassword": "not the password"}), http.StatusForbidden)
		expectProblem(call(http.MethodDelete, "/v1/organizations/"+t.name, pair.AccessToken, nil), http.StatusBadRequest)
		state.check()
		Expect(getOrg(t.name).DeletionTimestamp).To(BeNil())
	})

	It("rate-limits an organization's writes", func() {
		t := newTenant("writer")
		pair := tokensFor(t)
		c := apiCfg
		c.WriteRate, c.WriteBurst = 0.01, 2
		ts, _ := isolatedServer(c)
		for i := range 2 {
			r := callAt(ts.URL, http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken, map[string]string{"displayName": fmt.Sprint(i)})
			Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		}
		r := callAt(ts.URL, http.MethodPatch, "/v1/organizations/"+t.name, pair.AccessToken, map[string]string{"displayName": "third"})
		expectProblem(r, http.StatusTooManyRequests)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
	})

	It("failed logins from one network lock that network out, not the admin on another network", func() {
		t := newTenant("lockme")
		from := func(network string, pw string) apiclient.Response {
			r, err := apiclient.DoWith(ctx, baseURL, http.MethodPost, "/v1/auth/login", "",
				map[string]string{"email": t.email, "password": pw}, http.Header{"X-Forwarded-For": {network}})
			Expect(err).NotTo(HaveOccurred())
			return r
		}
		for range apiCfg.Lockout.Threshold {
			Expect(from("198.51.100.7", "guessing").Status).To(Equal(http.StatusUnauthorized))
		}
		Expect(from("198.51.100.7", t.password).Status).To(Equal(http.StatusTooManyRequests), "the attacker's network is locked")
		Expect(from("203.0.113.20", t.password).Status).To(Equal(http.StatusOK), "the admin on another network is not")
		// Spreading the guesses over networks reaches the softer account-wide limit.
		for i := range apiCfg.Lockout.GlobalThreshold {
			from(fmt.Sprintf("192.0.2.%d", i+1), "guessing")
		}
		Expect(from("203.0.113.21", t.password).Status).To(Equal(http.StatusTooManyRequests), "the account-wide limit holds")
	})

	It("one client network cannot lock an admin out everywhere, however long it keeps failing", func() {
		// Issue 20: past the account-wide threshold, one failure per lock
		// period from a single network kept every network locked for good.
		t := newTenant("held")
		srv, ts := isolatedAPI(apiCfg)
		clock := time.Now()
		srv.SetClock(func() time.Time { return clock })
		from := func(network, pw string) int {
			r, err := apiclient.DoWith(ctx, ts.URL, http.MethodPost, "/v1/auth/login", "",
				map[string]string{"email": t.email, "password": pw}, http.Header{"X-Forwarded-For": {network}})
			Expect(err).NotTo(HaveOccurred())
			return r.Status
		}
		failures := 0
		for failures < 2*apiCfg.Lockout.GlobalThreshold {
			clock = clock.Add(apiCfg.Lockout.Max + time.Second) // the attacker's network lock has run out
			Expect(from("198.51.100.66", "guessing")).To(Equal(http.StatusUnauthorized))
			failures++
		}
		Expect(from("203.0.113.30", t.password)).To(Equal(http.StatusOK), "the admin on another network logs in")
	})

	It("reads every X-Forwarded-For line: a spoofed first line does not hide the client a trusted proxy added", func() {
		// Issue 20: only the first header line was read, so a client could
		// send its own line ahead of the proxy's and pick its network.
		seq++
		email := fmt.Sprintf("nobody-%d@spoof.example", seq)
		login := func(forwarded ...string) int {
			r, err := apiclient.DoWith(ctx, baseURL, http.MethodPost, "/v1/auth/login", "",
				map[string]string{"email": email, "password": "guessing"}, http.Header{"X-Forwarded-For": forwarded})
			Expect(err).NotTo(HaveOccurred())
			return r.Status
		}
		for i := range apiCfg.Lockout.Threshold {
			Expect(login(fmt.Sprintf("192.0.2.%d", 100+i), "203.0.113.77")).To(Equal(http.StatusUnauthorized))
		}
		Expect(login("203.0.113.77")).To(Equal(http.StatusTooManyRequests), "the failures were counted for the proxy's client")
	})

	It("says where the client network's rate limit stands on every login, refresh and sign-up answer", func() {
		c := apiCfg
		c.LoginRate, c.LoginBurst = 0.01, 2
		ts, _ := isolatedServer(c)
		login := func() response {
			return callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "a@b.example", "password": "x"})
		}
		for _, remaining := range []string{"1", "0"} {
			r := login()
			Expect(r.status).To(Equal(http.StatusUnauthorized))
			Expect(r.header.Get("RateLimit-Limit")).To(Equal("2"))
			Expect(r.header.Get("RateLimit-Remaining")).To(Equal(remaining))
		}
		r := login()
		expectProblem(r, http.StatusTooManyRequests)
		Expect(r.header.Get("RateLimit-Remaining")).To(Equal("0"))
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
		reset, err := strconv.Atoi(r.header.Get("RateLimit-Reset"))
		Expect(err).NotTo(HaveOccurred())
		Expect(reset).To(BeNumerically(">", 100), "an empty bucket of 2 at 0.01/s refills in 200 s")
		// A malformed body is counted too: the limit is taken before the request is read.
		expectProblem(callAt(ts.URL, http.MethodPost, "/v1/auth/refresh", "", `{"refresh_token":5}`), http.StatusTooManyRequests)
	})

	It("ignores X-Forwarded-For from a peer that is not a trusted proxy", func() {
		c := apiCfg
		c.TrustedProxies = nil
		c.LoginRate, c.LoginBurst = 0.01, 1
		ts, _ := isolatedServer(c)
		for i := range 2 {
			r, err := apiclient.DoWith(ctx, ts.URL, http.MethodPost, "/v1/auth/login", "",
				map[string]string{"email": "a@b.example", "password": "x"}, http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}})
			Expect(err).NotTo(HaveOccurred())
			if i == 1 {
				Expect(r.Status).To(Equal(http.StatusTooManyRequests), "a forged header bought a fresh rate limit")
			}
		}
	})

	It("ends a session at its maximum age however often it was refreshed", func() {
		t := newTenant("aged")
		c := apiCfg
		c.SessionMaxAge = 30 * 24 * time.Hour
		srv, ts := isolatedAPI(c)
		start := time.Now()
		r := callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.password})
		Expect(r.status).To(Equal(http.StatusOK))
		var pair restapi.TokenPair
		Expect(json.Unmarshal(r.body, &pair)).To(Succeed())
		refresh := func(days int) response {
			srv.SetClock(func() time.Time { return start.Add(time.Duration(days) * 24 * time.Hour) })
			r := callAt(ts.URL, http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken})
			if r.status == http.StatusOK {
				Expect(json.Unmarshal(r.body, &pair)).To(Succeed())
			}
			return r
		}
		for _, day := range []int{6, 12, 18, 24, 29} { // each within the 7-day refresh lifetime
			Expect(refresh(day).status).To(Equal(http.StatusOK), "day %d", day)
		}
		expectProblem(refresh(31), http.StatusUnauthorized)
	})

	It("caps sign-ups in total and per hour, across replicas (counted from the cluster)", func() {
		seq++
		first := fmt.Sprintf("signed-%d", seq)
		Expect(call(http.MethodPost, "/v1/organizations", "", signupBody(first, "o@"+first+".example", "long enough password")).status).
			To(Equal(http.StatusCreated))
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, getOrg(first))) })
		var list tenancyv1alpha1.OrganizationList
		Eventually(func() int {
			Expect(mgr.Manager.GetClient().List(ctx, &list, client.MatchingLabels{tenancyv1alpha1.LabelCreatedBy: tenancyv1alpha1.CreatedBySignup})).To(Succeed())
			return len(list.Items)
		}, timeout, interval).Should(BeNumerically(">=", 1))
		c := apiCfg
		c.SignupMaxTotal, c.SignupMaxPerHour = len(list.Items), 0
		ts, _ := isolatedServer(c)
		name := fmt.Sprintf("capped-%d", seq)
		p := expectProblem(callAt(ts.URL, http.MethodPost, "/v1/organizations", "", signupBody(name, "o@"+name+".example", "long enough password")),
			http.StatusForbidden)
		Expect(p["detail"]).To(ContainSubstring("limit"))
		// The hourly cap, on a clock far ahead so that the suite's own
		// sign-ups are out of its window.
		c.SignupMaxTotal, c.SignupMaxPerHour = 0, 1
		srv, ts := isolatedAPI(c)
		later := time.Now().Add(100 * time.Hour)
		srv.SetClock(func() time.Time { return later })
		ok := fmt.Sprintf("hourly-%d", seq)
		Expect(callAt(ts.URL, http.MethodPost, "/v1/organizations", "", signupBody(ok, "o@"+ok+".example", "long enough password")).status).
			To(Equal(http.StatusCreated))
		DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, getOrg(ok))) })
		r := callAt(ts.URL, http.MethodPost, "/v1/organizations", "", signupBody(name, "o@"+name+".example", "long enough password"))
		expectProblem(r, http.StatusTooManyRequests)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
		Expect(orgGone(name)).To(BeTrue())
	})

	It("counts the sign-ups of the hour, not the live ones, and sign-up churn leaves nothing behind in MongoDB", func() {
		// Issue 20: sign-up -> login -> DELETE in a loop bypassed the hourly
		// cap (it counted live organizations) and left an empty retained
		// collection and ledger entry per cycle.
		c := apiCfg
		c.SignupMaxTotal, c.SignupMaxPerHour = 0, 2
		srv, ts := isolatedAPI(c)
		later := time.Now().Add(200 * time.Hour) // the suite's own sign-ups are out of the window
		srv.SetClock(func() time.Time { return later })
		for i := range 2 {
			seq++
			name := fmt.Sprintf("churn-%d", seq)
			body := signupBody(name, "o@"+name+".example", "long enough password")
			Expect(callAt(ts.URL, http.MethodPost, "/v1/organizations", "", body).status).To(Equal(http.StatusCreated), "cycle %d", i)
			login := callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": body["adminEmail"], "password": body["password"]})
			Expect(login.status).To(Equal(http.StatusOK))
			var pair restapi.TokenPair
			Expect(json.Unmarshal(login.body, &pair)).To(Succeed())
			Expect(callAt(ts.URL, http.MethodDelete, "/v1/organizations/"+name, pair.AccessToken,
				map[string]string{"currentPassword": body["password"]}).status).To(Equal(http.StatusAccepted))
			Eventually(func() bool { return orgGone(name) }, timeout, interval).Should(BeTrue())
			collections, err := reader.Collections(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(collections).NotTo(ContainElement("org_"+name), "an empty collection was retained")
			var entries []bson.M
			Expect(reader.Decode(ctx, "tenants", bson.D{{Key: "name", Value: name}}, &entries)).To(Succeed())
			Expect(entries).To(BeEmpty(), "a ledger entry was retained for nothing")
		}
		seq++
		name := fmt.Sprintf("churn-%d", seq)
		r := callAt(ts.URL, http.MethodPost, "/v1/organizations", "", signupBody(name, "o@"+name+".example", "long enough password"))
		expectProblem(r, http.StatusTooManyRequests)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
		Expect(orgGone(name)).To(BeTrue())
	})

	It("retains a deleted sign-up organization's data when it has some", func() {
		seq++
		name := fmt.Sprintf("keeps-%d", seq)
		body := signupBody(name, "o@"+name+".example", "long enough password")
		Expect(call(http.MethodPost, "/v1/organizations", "", body).status).To(Equal(http.StatusCreated))
		seedDocs("org_"+name, 2)
		pair := tokensFor(tenantOrg{name: name, email: body["adminEmail"], password: body["password"]})
		Expect(call(http.MethodDelete, "/v1/organizations/"+name, pair.AccessToken, map[string]string{"currentPassword": body["password"]}).status).
			To(Equal(http.StatusAccepted))
		Eventually(func() bool { return orgGone(name) }, timeout, interval).Should(BeTrue())
		Expect(countDocs("org_" + name)).To(Equal(2))
		var entries []bson.M
		Expect(reader.Decode(ctx, "tenants", bson.D{{Key: "name", Value: name}}, &entries)).To(Succeed())
		Expect(entries).To(HaveLen(1))
		Expect(entries[0]["state"]).To(Equal("retained"))
	})
})
