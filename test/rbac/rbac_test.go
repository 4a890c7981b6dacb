//go:build integration

// Package rbac runs the manager under exactly the RBAC that `make deploy`
// installs (kustomize build config/default), as its ServiceAccount, against a
// real apiserver with RBAC authorization: if a permission is missing, the
// tenant never becomes Ready; if one is too broad, the checks below say so.
package rbac

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"crypto/tls"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/org-operator/org-operator/internal/devenv/managerproc"
	"github.com/org-operator/org-operator/internal/operator"
	dto "github.com/prometheus/client_model/go"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

const (
	// namespace is the operator's, credentials the tenants' Secrets'.
	namespace   = "org-operator-system"
	credentials = "org-operator-credentials"
	// serviceAccountName is the manager's, as config/rbac names it.
	serviceAccountName = "org-operator-controller-manager"
)

func TestRBAC(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Deployed RBAC suite")
}

var (
	ctx     = context.Background()
	testEnv *testenv.Environment
	mgr     *managerproc.Process
	dir     string
	// asSA acts with the manager's ServiceAccount token.
	asSA client.Client
)

// installRBAC applies the ServiceAccount, every RBAC object and the
// admission policies of config/default, and its namespaces' labels.
func installRBAC(c client.Client) {
	cmd := exec.Command("kubectl", "kustomize", "config/default")
	cmd.Dir = controlplane.RepoRoot()
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "kubectl kustomize config/default")
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	applied := 0
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			Expect(err).To(Equal(io.EOF))
			break
		}
		switch u.GetKind() {
		case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			Expect(c.Create(ctx, u)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
			applied++
		case "Namespace": // created by the environment; its labels as shipped
			Expect(c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("rbac-test"), client.ForceOwnership)).
				To(Succeed(), "namespace %s", u.GetName())
		}
	}
	Expect(applied).To(BeNumerically(">=", 10))
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, err = testenv.StartEnvironment(testenv.EnvironmentOptions{CredentialsNamespace: credentials, OperatorNamespace: namespace,
		Authentication: true})
	Expect(err).NotTo(HaveOccurred())
	installRBAC(testEnv.Client)

	// The manager runs as the Deployment runs it: its own process, with the
	// ServiceAccount's bound token, leader election on and metrics behind
	// authentication and authorization.
	dir = GinkgoT().TempDir()
	bin, err := controlplane.BuildManager(dir)
	Expect(err).NotTo(HaveOccurred())
	token, err := controlplane.ServiceAccountToken(ctx, testEnv.Client, namespace, serviceAccountName, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	saConfig := rest.CopyConfig(testEnv.Env.Config)
	saConfig.CertData, saConfig.KeyData, saConfig.BearerToken = nil, nil, token
	asSA, err = client.New(saConfig, client.Options{Scheme: testenv.Scheme})
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := controlplane.TokenKubeconfig(testEnv.Env.Config, token)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600)).To(Succeed())
	mgr, err = managerproc.Start(ctx, managerproc.Options{Binary: bin, Kubeconfig: filepath.Join(dir, "kubeconfig"),
		MongoURI: testEnv.Mongo.URI(), LogPath: filepath.Join(dir, "manager.log"), API: true, Metrics: true, SecureMetrics: true,
		Args: []string{"--leader-elect=true", "--credentials-namespace=" + credentials, "--operator-namespace=" + namespace,
			"--mongodb-database=" + testEnv.Database}})
	Expect(err).NotTo(HaveOccurred(), "the manager under its deployed RBAC (log: %s)", filepath.Join(dir, "manager.log"))
})

// anyFailed is set by a failing spec: AfterSuite then prints the manager's log.
var anyFailed bool

var _ = ReportAfterEach(func(r SpecReport) { anyFailed = anyFailed || r.Failed() })

var _ = AfterSuite(func() {
	if mgr != nil {
		Expect(mgr.Stop(syscall.SIGTERM, 30*time.Second)).To(Succeed())
		if anyFailed {
			log, _ := os.ReadFile(filepath.Join(dir, "manager.log"))
			GinkgoWriter.Printf("manager log:\n%s\n", log)
		}
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

var _ = Describe("The manager under its deployed RBAC", func() {
	It("runs a tenant's whole life: Ready, events, API login, deletion", func() {
		org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "rbac"},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@rbac.example"},
				DeletionPolicy: tenancyv1alpha1.DeletionPolicyDelete}}
		Expect(testEnv.Client.Create(ctx, org)).To(Succeed())
		_, err := convergence.Wait(ctx, testEnv.Client, org.Name, 30*time.Second)
		Expect(err).NotTo(HaveOccurred())

		Eventually(func() []string {
			var list eventsv1.EventList
			Expect(testEnv.Client.List(ctx, &list, client.InNamespace("default"))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.Name == "rbac" {
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}, 10*time.Second, 100*time.Millisecond).Should(ContainElement(controller.EventProvisioned), "events could not be recorded")

		s := &corev1.Secret{}
		Expect(testEnv.Client.Get(ctx, client.ObjectKey{Namespace: credentials, Name: "rbac-admin"}, s)).To(Succeed())
		body, _ := json.Marshal(map[string]string{"email": "admin@rbac.example", "password": string(s.Data["password"])})
		resp, err := http.Post(mgr.APIURL+"/v1/auth/login", "application/json", bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		Expect(testEnv.Client.Delete(ctx, org)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(org), org))
		}, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	})

	It("cannot read or list Secrets outside the credentials namespace", func() {
		Expect(testEnv.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "private"}})).To(Succeed())
		err := asSA.Get(ctx, client.ObjectKey{Namespace: "default", Name: "private"}, &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		Expect(apierrors.IsForbidden(asSA.List(ctx, &corev1.SecretList{}))).To(BeTrue(), "cluster-wide Secret list allowed")
		Expect(asSA.List(ctx, &corev1.SecretList{}, client.InNamespace(credentials))).To(Succeed())
	})

	It("keeps tenant Secrets in the credentials namespace, and of its own namespace reads only its signing keys", func() {
		// Issue 20: tenant Secrets lived beside the MongoDB URI and the
		// signing keys, so read access for handing out tenant passwords gave
		// the database.
		mongoSecret := mongoURISecret()
		err := asSA.Get(ctx, client.ObjectKeyFromObject(mongoSecret), &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may read the MongoDB URI Secret: %v", err)
		err = asSA.List(ctx, &corev1.SecretList{}, client.InNamespace(namespace))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may list its namespace's Secrets: %v", err)
		Expect(asSA.Get(ctx, client.ObjectKey{Namespace: namespace, Name: tenancyv1alpha1.DefaultSigningKeysSecret}, &corev1.Secret{})).
			To(Succeed(), "the signing keys (created by the running manager)")
		err = asSA.Update(ctx, mongoSecret)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may change the MongoDB URI Secret: %v", err)

		var list corev1.SecretList
		Expect(testEnv.Client.List(ctx, &list, client.InNamespace(namespace))).To(Succeed())
		for _, s := range list.Items {
			Expect(s.Labels).NotTo(HaveKey(tenancyv1alpha1.LabelOrganization), "tenant Secret %s in the operator's namespace", s.Name)
		}
		Expect(testEnv.Client.List(ctx, &list, client.InNamespace(credentials))).To(Succeed())
		for _, s := range list.Items {
			Expect(s.Name).NotTo(Equal(tenancyv1alpha1.DefaultSigningKeysSecret), "the signing keys are in the credentials namespace")
		}
	})

	It("cannot touch other resources", func() {
		err := asSA.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: credentials, Name: "x"}})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		err = asSA.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	})
})

var _ = Describe("Leader election under the deployed RBAC", func() {
	It("holds and renews the Lease in the operator's namespace", func() {
		lease := &coordinationv1.Lease{}
		key := client.ObjectKey{Namespace: namespace, Name: operator.LeaderElectionID}
		Eventually(func() (string, error) {
			if err := testEnv.Client.Get(ctx, key, lease); err != nil {
				return "", err
			}
			return ptr.Deref(lease.Spec.HolderIdentity, ""), nil
		}, 30*time.Second, 200*time.Millisecond).ShouldNot(BeEmpty(), "the manager never took the Lease")
		first := lease.Spec.RenewTime.Time
		Eventually(func() (time.Time, error) {
			err := testEnv.Client.Get(ctx, key, lease)
			return lease.Spec.RenewTime.Time, err
		}, 30*time.Second, 500*time.Millisecond).Should(BeTemporally(">", first), "the manager cannot renew the Lease")
		Expect(check.Sum(scrape(bearer(metricsReader)), "leader_election_master_status", nil)).To(Equal(1.0))
	})
})

var _ = Describe("Secure metrics under the deployed RBAC", func() {
	It("serves /metrics to a ServiceAccount bound to the metrics-reader role, and to no one else", func() {
		families := scrape(bearer(metricsReader))
		Expect(families).To(HaveKey("controller_runtime_reconcile_total"), "the manager's own metrics")
		Expect(status(bearer(metricsUnbound))).To(Equal(http.StatusForbidden), "a token without the metrics-reader role")
		Expect(status("")).To(Equal(http.StatusUnauthorized), "no token")
		// controller-runtime's filter answers 500 "Authentication failed"
		// when the TokenReview reports an error, as it does for a token that
		// does not parse; either way nothing is served.
		Expect(status("not-a-token")).To(BeElementOf(http.StatusUnauthorized, http.StatusInternalServerError), "a forged token")
	})
})

// Scraper ServiceAccounts in the monitoring namespace: one bound to the
// metrics-reader ClusterRole config/rbac ships (as the ServiceMonitor's
// Prometheus is), one bound to nothing.
const (
	monitoring     = "monitoring"
	metricsReader  = "prometheus"
	metricsUnbound = "nosy"
)

var scrapers sync.Once

// bearer returns a token of the scraper ServiceAccount name, creating the
// scrapers on first use.
func bearer(name string) string {
	GinkgoHelper()
	scrapers.Do(func() {
		Expect(testEnv.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: monitoring}})).To(Succeed())
		for _, sa := range []string{metricsReader, metricsUnbound} {
			Expect(testEnv.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: monitoring, Name: sa}})).To(Succeed())
		}
		Expect(testEnv.Client.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-org-operator-metrics"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "org-operator-metrics-reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: monitoring, Name: metricsReader}}})).To(Succeed())
	})
	token, err := controlplane.ServiceAccountToken(ctx, testEnv.Client, monitoring, name, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	return token
}

// metricsTransport trusts any certificate: without --metrics-cert-path the
// manager serves a self-signed one (test/ha checks a verifiable one).
var metricsTransport = &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // self-signed, see above
var metricsClient = &http.Client{Timeout: 5 * time.Second, Transport: metricsTransport}

// status is the HTTP status of GET /metrics with token ("" sends none).
func status(token string) int {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mgr.MetricsURL+"/metrics", nil)
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := metricsClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	_, _ = io.Copy(io.Discard, resp.Body)
	Expect(resp.Body.Close()).To(Succeed())
	return resp.StatusCode
}

// scrape reads /metrics with token; it fails unless the answer is 200.
func scrape(token string) map[string]*dto.MetricFamily {
	GinkgoHelper()
	withToken := &http.Client{Timeout: 5 * time.Second, Transport: transport.NewBearerAuthRoundTripper(token, metricsTransport)}
	families, err := check.Scrape(ctx, withToken, mgr.MetricsURL+"/metrics")
	Expect(err).NotTo(HaveOccurred(), "GET /metrics with the metrics-reader token")
	return families
}

var _ = Describe("Application access under the deployed RBAC and admission policy", func() {
	It("writes an application's connection Secret it cannot read, and cannot touch that namespace's other Secrets", func() {
		apps := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
		Expect(testEnv.Client.Create(ctx, apps)).To(Succeed())
		org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "shop"},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@shop.example"},
				Access: &tenancyv1alpha1.AccessPolicy{Namespaces: []string{"shop"}}}}
		Expect(testEnv.Client.Create(ctx, org)).To(Succeed())
		_, err := convergence.Wait(ctx, testEnv.Client, org.Name, 30*time.Second)
		Expect(err).NotTo(HaveOccurred())
		theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "payment-keys"},
			StringData: map[string]string{"key": "the shop's own secret"}}
		Expect(testEnv.Client.Create(ctx, theirs)).To(Succeed())

		a := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: "shop"}}
		Expect(testEnv.Client.Create(ctx, a)).To(Succeed())
		Eventually(func() bool {
			Expect(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(a), a)).To(Succeed())
			return meta.IsStatusConditionTrue(a.Status.Conditions, tenancyv1alpha1.ConditionReady)
		}, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "the access under the shipped rules: %v", a.Status.Conditions)
		conn := &corev1.Secret{}
		Expect(testEnv.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, conn)).To(Succeed())
		Expect(check.Authenticates(ctx, string(conn.Data["uri"]), "orgs", "org_shop")).To(Succeed())

		// RBAC: no read of any Secret there, not even its own.
		err = asSA.Get(ctx, client.ObjectKeyFromObject(theirs), &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may read an application's Secret: %v", err)
		err = asSA.Get(ctx, client.ObjectKeyFromObject(conn), &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may read Secrets in application namespaces: %v", err)
		Expect(apierrors.IsForbidden(asSA.List(ctx, &corev1.SecretList{}, client.InNamespace("shop")))).To(BeTrue())

		// The admission policy: no write to a Secret without the access label,
		// although RBAC allows patch and deletecollection.
		err = asSA.Patch(ctx, theirs.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"data":{"key":"b3ducWQ="}}`)))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may change an application's Secret: %v", err)
		err = asSA.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace("shop"))
		Expect(err).To(HaveOccurred(), "the manager may delete an application's Secrets")
		got := &corev1.Secret{}
		Expect(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(theirs), got)).To(Succeed())
		Expect(string(got.Data["key"])).To(Equal("the shop's own secret"))
		mongoSecret := mongoURISecret()
		err = asSA.Patch(ctx, mongoSecret, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`)))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may patch (and so read) the MongoDB URI Secret: %v", err)

		Expect(testEnv.Client.Delete(ctx, a)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(testEnv.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, &corev1.Secret{}))
		}, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "the connection Secret outlived its access")
		Expect(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(theirs), got)).To(Succeed())
	})
})

// mongoURISecret creates the operator's MongoDB URI Secret, as an install
// does, unless a spec that ran earlier did.
func mongoURISecret() *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: tenancyv1alpha1.MongoDBSecret},
		StringData: map[string]string{"uri": "mongodb://operator:secret@db/"}}
	if err := testEnv.Client.Create(ctx, s); !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	return s
}
