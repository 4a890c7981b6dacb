//go:build integration

// Package ha runs two real manager processes with leader election against
// one apiserver and one FerretDB, as the Deployment's two replicas do.
package ha

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/managerproc"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
	"github.com/org-operator/org-operator/internal/tokens"
)

func TestHA(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Two replicas")
}

var (
	ctx        = context.Background()
	env        *testenv.Environment
	bin        string
	dir        string
	kubeconfig string
)

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	var err error
	env, err = testenv.StartEnvironment(testenv.EnvironmentOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
	dir = GinkgoT().TempDir()
	bin, err = controlplane.BuildManager(dir)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, env.Env.KubeConfig, 0o600)).To(Succeed())
})

// replica is one manager process.
type replica struct {
	name string
	*managerproc.Process
}

// startReplica starts bin/manager as the Deployment runs it (leader
// election on) and waits until its /readyz answers 200.
func startReplica(name string, extra ...string) *replica {
	GinkgoHelper()
	p, err := managerproc.Start(ctx, managerproc.Options{Binary: bin, Kubeconfig: kubeconfig, MongoURI: env.Mongo.URI(),
		LogPath: filepath.Join(dir, name+".log"), API: true, Metrics: true,
		Args: append([]string{
			"--leader-elect=true",
			"--cluster-id=ha-test",
			"--credentials-namespace=" + env.CredentialsNamespace,
			"--operator-namespace=" + env.OperatorNamespace,
			"--mongodb-database=" + env.Database,
		}, extra...)})
	Expect(err).NotTo(HaveOccurred(), "replica %s", name)
	DeferCleanup(func() { _ = p.Stop(syscall.SIGKILL, 5*time.Second) })
	return &replica{name: name, Process: p}
}

// metric sums the samples of family name on r's metrics endpoint whose
// labels include want; -1 when the endpoint does not answer.
func (r *replica) metric(name string, want map[string]string) float64 {
	families, err := check.Scrape(ctx, &http.Client{Timeout: 3 * time.Second}, r.MetricsURL+"/metrics")
	if err != nil {
		return -1
	}
	return check.Sum(families, name, want)
}

// leads reports whether r holds the Lease, by its own account.
func (r *replica) leads() bool {
	return r.metric("leader_election_master_status", nil) == 1
}

func (r *replica) reconciles() float64 {
	return r.metric("controller_runtime_reconcile_total", map[string]string{"controller": "organization"})
}

// leader waits until exactly one of rs leads and returns it.
func leader(timeout time.Duration, rs ...*replica) *replica {
	GinkgoHelper()
	var found *replica
	Eventually(func() int {
		n := 0
		for _, r := range rs {
			if r.leads() {
				n, found = n+1, r
			}
		}
		return n
	}, timeout, 50*time.Millisecond).Should(Equal(1), "exactly one replica must lead")
	return found
}

func createOrg(name string) {
	GinkgoHelper()
	Expect(env.Client.Create(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"}}})).To(Succeed())
}

func waitReady(timeout time.Duration, names ...string) {
	GinkgoHelper()
	for _, name := range names {
		_, err := convergence.Wait(ctx, env.Client, name, timeout)
		Expect(err).NotTo(HaveOccurred())
	}
}

// login logs in as name's admin at base and returns the access token.
func login(base, name string) string {
	GinkgoHelper()
	secret := &corev1.Secret{}
	Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: env.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(name)}, secret)).To(Succeed())
	r, err := apiclient.Do(ctx, base, http.MethodPost, "/v1/auth/login", "", map[string]string{
		"email": string(secret.Data[tenancyv1alpha1.SecretKeyEmail]), "password": string(secret.Data[tenancyv1alpha1.SecretKeyPassword])})
	Expect(err).NotTo(HaveOccurred())
	body, _ := r.JSON()
	Expect(r.Status).To(Equal(http.StatusOK), "%v", body)
	return body["access_token"].(string)
}

func getOrg(base, name, token string) int {
	GinkgoHelper()
	r, err := apiclient.Do(ctx, base, http.MethodGet, "/v1/organizations/"+name, token, nil)
	Expect(err).NotTo(HaveOccurred())
	return r.Status
}

// kid is the key id in an access token's header.
func kid(token string) string {
	GinkgoHelper()
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	Expect(err).NotTo(HaveOccurred())
	var h struct {
		Kid string `json:"kid"`
	}
	Expect(json.Unmarshal(header, &h)).To(Succeed())
	return h.Kid
}

var _ = Describe("Two replicas", Ordered, func() {
	var a, b *replica

	BeforeAll(func() {
		a = startReplica("a")
		b = startReplica("b")
	})

	It("elect exactly one leader, which alone reconciles; both serve the API and accept each other's tokens", func() {
		lead := leader(30*time.Second, a, b)
		follower := a
		if lead == a {
			follower = b
		}
		createOrg("ha-one")
		waitReady(30*time.Second, "ha-one")
		Expect(lead.reconciles()).To(BeNumerically(">", 0))
		Expect(follower.reconciles()).To(BeZero(), "the follower reconciled")
		Consistently(func() int { return len(filter([]*replica{a, b}, (*replica).leads)) }, 2*time.Second, 200*time.Millisecond).Should(Equal(1))

		Expect(getOrg(b.APIURL, "ha-one", login(a.APIURL, "ha-one"))).To(Equal(http.StatusOK))
		Expect(getOrg(a.APIURL, "ha-one", login(b.APIURL, "ha-one"))).To(Equal(http.StatusOK))
	})

	It("accept a token signed with a key the other replica just rotated in", func() {
		// Rotate as a replica does (a new signing key added to the Secret),
		// then log in at a until it signs with the new key and use the
		// token at b at once, before b's cache may have the new key.
		secret := &corev1.Secret{}
		key := client.ObjectKey{Namespace: env.OperatorNamespace, Name: "org-operator-jwt-keys"}
		Expect(env.Client.Get(ctx, key, secret)).To(Succeed())
		ks, err := tokens.DecodeKeySet(secret.Data)
		Expect(err).NotTo(HaveOccurred())
		current, err := ks.Signing()
		Expect(err).NotTo(HaveOccurred())
		rotated, changed, err := ks.Rotate(time.Now().Add(8*24*time.Hour), 7*24*time.Hour, 15*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		Expect(changed).To(BeTrue())
		next, err := rotated.Signing()
		Expect(err).NotTo(HaveOccurred())
		Expect(next.ID).NotTo(Equal(current.ID))
		secret.Data = rotated.Encode()
		Expect(env.Client.Update(ctx, secret)).To(Succeed())

		var token string
		Eventually(func() string { token = login(a.APIURL, "ha-one"); return kid(token) }, 10*time.Second, 10*time.Millisecond).Should(Equal(next.ID))
		Expect(getOrg(b.APIURL, "ha-one", token)).To(Equal(http.StatusOK))
	})

	It("survive a SIGKILL of the leader while 20 organizations are created: the other takes over and all converge", func() {
		lead := leader(30*time.Second, a, b)
		survivor := a
		if lead == a {
			survivor = b
		}
		names := make([]string, 20)
		for i := range names {
			names[i] = "ha-crash-" + strconv.Itoa(i)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			defer GinkgoRecover()
			for _, n := range names {
				createOrg(n)
				time.Sleep(100 * time.Millisecond)
			}
		})
		// Kill the leader once it has made the first organizations Ready
		// while the others are still being created, and check that it did.
		Eventually(func() (int, error) {
			_, converged, err := convergence.Progress(ctx, env.Client, names)
			return converged, err
		},
			30*time.Second, 20*time.Millisecond).Should(BeNumerically(">=", 1))
		killed := time.Now()
		Expect(lead.Stop(syscall.SIGKILL, 5*time.Second)).To(Succeed())
		existing, converged, err := convergence.Progress(ctx, env.Client, names)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("organizations existing / converged when the leader was killed", fmt.Sprintf("%d / %d of %d", existing, converged, len(names)))
		Expect(converged).To(BeNumerically("<", len(names)), "the kill landed after every creation had finished")
		Eventually(survivor.leads, 60*time.Second, 50*time.Millisecond).Should(BeTrue())
		takeover := time.Since(killed)
		AddReportEntry("takeover after SIGKILL of the leader", takeover.Round(100*time.Millisecond).String())
		GinkgoWriter.Printf("takeover after SIGKILL: %s\n", takeover.Round(100*time.Millisecond))
		wg.Wait()
		waitReady(90*time.Second, names...)
		for _, n := range names {
			var list corev1.SecretList
			Expect(env.Client.List(ctx, &list, client.InNamespace(env.CredentialsNamespace),
				client.MatchingLabels{tenancyv1alpha1.LabelOrganization: n})).To(Succeed())
			Expect(list.Items).To(HaveLen(1), "credentials Secrets of %s", n)
		}
		// A lease outlives its holder by its duration (15 s), counted from
		// when the survivor last saw it renewed; the survivor looks every
		// retry period (2 s) with client-go's jitter (up to x2.2): it may see
		// the last renewal up to 4.4 s late and try again up to 4.4 s after
		// the lease expired: 23.8 s at most (20 s was short of that: a
		// loaded machine measured 20.05 s).
		Expect(takeover).To(BeNumerically("<", 24*time.Second))
		if lead == a {
			a = nil
		} else {
			b = nil
		}
	})

	It("hand over within a retry period when the leader stops gracefully (it releases the Lease)", func() {
		old := a
		if old == nil {
			old = b
		}
		fresh := startReplica("c")
		Expect(leader(30*time.Second, old, fresh)).To(Equal(old))
		stopped := time.Now()
		Expect(old.Stop(syscall.SIGTERM, 15*time.Second)).To(Succeed())
		Eventually(fresh.leads, 30*time.Second, 50*time.Millisecond).Should(BeTrue())
		handover := time.Since(stopped)
		AddReportEntry("handover after SIGTERM of the leader", handover.Round(100*time.Millisecond).String())
		GinkgoWriter.Printf("handover after SIGTERM: %s\n", handover.Round(100*time.Millisecond))
		createOrg("ha-after-handover")
		waitReady(30*time.Second, "ha-after-handover")
		// Without releasing, the new replica would wait out the lease (15 s).
		Expect(handover).To(BeNumerically("<", 6*time.Second))
	})
})

func filter(rs []*replica, keep func(*replica) bool) []*replica {
	var out []*replica
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}
