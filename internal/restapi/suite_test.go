//go:build integration

package restapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/seed"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
	"github.com/org-operator/org-operator/internal/tokens"
)

// credNS holds the tenants' Secrets, operatorNS the operator's own (the
// signing keys): two namespaces, as in production.
const (
	credNS     = "org-operator-credentials"
	operatorNS = "org-operator-system"
)

var (
	ctx      context.Context
	testEnv  *testenv.Environment
	k8s      client.Client
	mongoSrv ferretdb.Instance
	// reader reads MongoDB independently of the code under test (checks);
	// writer writes behind the system's back (seeding).
	reader   *check.Mongo
	writer   *seed.Mongo
	mgr      *testenv.InProcessManager
	baseURL  string
	apiCfg   restapi.Config
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
	seq      int
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "REST API suite (envtest + FerretDB + controller, real HTTP)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(suiteLogger)
	ctx = context.Background()
	var err error
	testEnv, err = testenv.StartEnvironment(testenv.EnvironmentOptions{CredentialsNamespace: credNS, OperatorNamespace: operatorNS,
		Authentication: true}) // FerretDB with users: applications' accesses become Ready
	Expect(err).NotTo(HaveOccurred())
	k8s, mongoSrv = testEnv.Client, testEnv.Mongo
	reader, writer = testEnv.Check, testEnv.Seed

	apiCfg = restapi.DefaultConfig()
	apiCfg.Signup = restapi.SignupOpen
	apiCfg.LoginRate, apiCfg.LoginBurst = 1000, 1000
	apiCfg.Lockout = restapi.LockoutPolicy{Threshold: 3, GlobalThreshold: 8, GlobalNetworks: 3, Base: 2 * time.Second, Max: 4 * time.Second, Window: time.Minute}
	apiCfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} // tests speak for several client networks
	apiCfg.WriteRate, apiCfg.WriteBurst = 1000, 1000
	apiCfg.HashConcurrency = 2
	apiCfg.ChangeTimeout = 20 * time.Second
	mgr, err = testEnv.StartInProcessManager(testenv.Options{API: &apiCfg})
	Expect(err).NotTo(HaveOccurred())
	baseURL = mgr.APIURL
})

var _ = AfterSuite(func() {
	// Stopped after the contract check, even when it fails: no apiserver,
	// etcd or FerretDB outlives the suite.
	DeferCleanup(func() {
		if mgr != nil {
			Expect(mgr.Stop()).To(Succeed())
		}
		if testEnv != nil {
			Expect(testEnv.Stop()).To(Succeed())
		}
	})
	// The contract check needs the whole suite's exchanges.
	suite, _ := GinkgoConfiguration()
	filtered := len(suite.FocusStrings) > 0 || len(suite.FocusFiles) > 0 || len(suite.SkipStrings) > 0 || suite.LabelFilter != ""
	if mgr != nil && !CurrentSpecReport().Failed() && !filtered {
		checkContract()
		checkLogsKeepSecrets()
	}
})

// exchange is one HTTP request and response made by a test, kept for the
// OpenAPI contract test.
type exchange struct {
	method, path string
	status       int
	contentType  string
	header       http.Header
}

var (
	recordedMu sync.Mutex
	recorded   []exchange
)

// response of one call.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json() map[string]any {
	var m map[string]any
	Expect(json.Unmarshal(r.body, &m)).To(Succeed(), string(r.body))
	return m
}

// call sends one request to base (baseURL when empty). body may be a string
// (sent as is), nil, or a value marshalled to JSON.
func callAt(base, method, path, token string, body any) response {
	rememberSecrets(token, body)
	r, err := apiclient.Do(ctx, base, method, path, token, body)
	Expect(err).NotTo(HaveOccurred())
	recordedMu.Lock()
	recorded = append(recorded, exchange{method: method, path: path, status: r.Status, contentType: r.Header.Get("Content-Type"), header: r.Header})
	recordedMu.Unlock()
	return response{status: r.Status, header: r.Header, body: r.Body}
}

func call(method, path, token string, body any) response {
	return callAt(baseURL, method, path, token, body)
}

// expectProblem asserts an RFC 9457 problem with the status.
func expectProblem(r response, status int) map[string]any {
	GinkgoHelper()
	Expect(r.status).To(Equal(status), string(r.body))
	Expect(r.header.Get("Content-Type")).To(Equal("application/problem+json"))
	p := r.json()
	Expect(p["status"]).To(BeEquivalentTo(status))
	Expect(p["title"]).To(Equal(http.StatusText(status)))
	return p
}

// tenantOrg is an organization created for a test, with its admin credentials.
type tenantOrg struct {
	name, email, password string
}

// newTenant creates a Ready organization with a generated password, as if
// the tenant had signed up.
func newTenant(prefix string) tenantOrg {
	seq++
	name := fmt.Sprintf("%s-%d", prefix, seq)
	org := &tenancyv1alpha1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{DisplayName: "Tenant " + name,
			Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"}},
	}
	// Created as the API creates organizations (sign-up): the tenant owns
	// its fields. gitops_test.go covers organizations declared in Git.
	Expect(k8s.Create(ctx, org, client.FieldOwner(tenancyv1alpha1.FieldManagerAPI))).To(Succeed())
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, org))).To(Succeed())
	})
	waitReady(name)
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: name + "-admin"}, s)).To(Succeed())
	return tenantOrg{name: name, email: string(s.Data["email"]), password: string(s.Data["password"])}
}

// signedUp signs up an organization named prefix-<n> with pw through the
// API (201 required) and deletes it after the spec; it does not wait for it.
func signedUp(prefix, pw string) tenantOrg {
	GinkgoHelper()
	seq++
	t := tenantOrg{name: fmt.Sprintf("%s-%d", prefix, seq), password: pw}
	t.email = "owner@" + t.name + ".example"
	r := call(http.MethodPost, "/v1/organizations", "", signupBody(t.name, t.email, pw))
	Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: t.name}}))).To(Succeed())
	})
	return t
}

// waitReady waits until the organization converged (convergence.Check).
func waitReady(name string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	org, err := convergence.Wait(ctx, k8s, name, timeout)
	Expect(err).NotTo(HaveOccurred())
	return org
}

func getOrg(name string) *tenancyv1alpha1.Organization {
	org := &tenancyv1alpha1.Organization{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
	return org
}

func orgGone(name string) bool {
	return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, &tenancyv1alpha1.Organization{}))
}

// tokensFor logs in and returns the token pair.
func tokensFor(t tenantOrg) restapi.TokenPair {
	GinkgoHelper()
	r := call(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.password})
	Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	var p restapi.TokenPair
	Expect(json.Unmarshal(r.body, &p)).To(Succeed())
	return p
}

// signingKeys reads the API's key set from its Secret.
func signingKeys() *tokens.KeySet {
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: apiCfg.SigningKeysSecret}, s)).To(Succeed())
	ks, err := tokens.DecodeKeySet(s.Data)
	Expect(err).NotTo(HaveOccurred())
	return ks
}

var (
	pathParam       = regexp.MustCompile(`^/v1/organizations/[^/]+$`)
	accessPathParam = regexp.MustCompile(`^/v1/organizations/[^/]+/access$`)
)

// template maps a request path to its OpenAPI path template.
func template(path string) string {
	switch {
	case pathParam.MatchString(path):
		return "/v1/organizations/{name}"
	case accessPathParam.MatchString(path):
		return "/v1/organizations/{name}/access"
	}
	return path
}

// adminRecords reads an organization's admin records with the independent
// client (what the controller wrote, not what the store says).
func adminRecords(organization string) []bson.M {
	GinkgoHelper()
	var records []bson.M
	Expect(reader.Decode(ctx, "admins", bson.D{{Key: "organization", Value: organization}}, &records)).To(Succeed())
	return records
}

// connectStore opens a store connection of the code under test, for a
// server a test builds itself (never to assert with).
func connectStore(counter *mongostore.CommandCounter) *mongostore.Store {
	GinkgoHelper()
	o := mongostore.Options{URI: mongoSrv.URI(), Database: testEnv.Database}
	if counter != nil {
		o.Monitor = counter.Monitor()
	}
	store, err := mongostore.Connect(o)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = store.Close(ctx) })
	return store
}
