//go:build integration

package backend_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/devenv/postgres"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// The suite runs the operator against two MongoDB deployments: the
// environment's FerretDB (embedded, SQLite: the manager's --mongodb-uri,
// backend "default") and a FerretDB process on PostgreSQL 15 (MongoBackend
// "pg"). Every check reads the deployments through independent clients.
const (
	credNS       = "org-operator-credentials"
	database     = "orgs"
	pgDatabase   = "tenants"
	resyncPeriod = 2 * time.Second
)

var (
	ctx      context.Context
	testEnv  *testenv.Environment
	k8s      client.Client
	mgr      *testenv.InProcessManager
	pg       *postgres.Server
	pgFerret *ferretdb.Process
	// onDefault and onPG read each deployment independently.
	onDefault, onPG *check.Mongo
	timeout         = 30 * time.Second
	interval        = 100 * time.Millisecond
	nameIndex       int
)

func TestBackends(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "MongoBackend suite (envtest + two FerretDB deployments)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx = context.Background()
	var err error
	testEnv, err = testenv.StartEnvironment(testenv.EnvironmentOptions{Database: database, CredentialsNamespace: credNS})
	Expect(err).NotTo(HaveOccurred())
	k8s, onDefault = testEnv.Client, testEnv.Check
	dir, err := os.MkdirTemp("", "backends-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	pg, err = postgres.Start(ctx, dir)
	Expect(err).NotTo(HaveOccurred())
	pgFerret, err = ferretdb.StartProcess(ferretdb.ProcessOptions{Binary: filepath.Join(controlplane.RepoRoot(), "bin", "ferretdb"),
		Backend: ferretdb.PostgreSQL, PostgreSQLURL: pg.URL, LogPath: filepath.Join(dir, "ferretdb-pg.log")})
	Expect(err).NotTo(HaveOccurred())
	onPG, err = check.ConnectMongo(pgFerret.URI(), pgDatabase)
	Expect(err).NotTo(HaveOccurred())
	api := restapi.DefaultConfig()
	mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod, API: &api})
	Expect(err).NotTo(HaveOccurred())
	createBackend("pg", pgFerret.URI(), nil)
	waitBackendReady("pg")
})

var _ = AfterSuite(func() {
	if mgr != nil {
		Expect(mgr.Stop()).To(Succeed())
	}
	if onPG != nil {
		Expect(onPG.Close(ctx)).To(Succeed())
	}
	if pgFerret != nil {
		Expect(pgFerret.Close()).To(Succeed())
	}
	if pg != nil {
		Expect(pg.Stop(syscall.SIGINT, 10*time.Second)).To(Succeed())
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
	expectAllBackendHealthStatesSeen()
})

func uniqueName(prefix string) string {
	nameIndex++
	return fmt.Sprintf("%s-%d", prefix, nameIndex)
}

// createBackend creates the connection Secret and the MongoBackend.
func createBackend(name, uri string, mutate func(*tenancyv1alpha1.MongoBackend)) {
	GinkgoHelper()
	createSecret(name+"-mongodb", uri)
	b := &tenancyv1alpha1.MongoBackend{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.MongoBackendSpec{ConnectionSecretRef: tenancyv1alpha1.BackendSecretRef{Name: name + "-mongodb"}, Database: pgDatabase}}
	if mutate != nil {
		mutate(b)
	}
	Expect(k8s.Create(ctx, b)).To(Succeed())
}

// createSecret creates a connection Secret in the credentials namespace.
func createSecret(name, uri string) {
	GinkgoHelper()
	Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name},
		StringData: map[string]string{"uri": uri}})).To(Succeed())
}

// setSecret changes a connection Secret's URI.
func setSecret(name, uri string) {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: name}, s)).To(Succeed())
	patch := client.MergeFrom(s.DeepCopy())
	s.Data = map[string][]byte{"uri": []byte(uri)}
	Expect(k8s.Patch(ctx, s, patch)).To(Succeed())
}

// setDefault sets or clears spec.default of a backend.
func setDefault(name string, def bool) {
	GinkgoHelper()
	b := getBackend(name)
	patch := client.MergeFrom(b.DeepCopy())
	b.Spec.Default = def
	Expect(k8s.Patch(ctx, b, patch)).To(Succeed())
}

// deleteBackendAndWait deletes a backend and waits until it is gone.
func deleteBackendAndWait(name string) {
	GinkgoHelper()
	b := &tenancyv1alpha1.MongoBackend{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, b))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, b))
	}, timeout, interval).Should(BeTrue(), "MongoBackend %s was not deleted", name)
}

// getBackendMessage is the message of a backend's Ready condition.
func getBackendMessage(name string) string {
	GinkgoHelper()
	c := meta.FindStatusCondition(getBackend(name).Status.Conditions, tenancyv1alpha1.ConditionReady)
	Expect(c).NotTo(BeNil())
	return c.Message
}

// getOrgBackend is an organization's status.backend.
func getOrgBackend(name string) string {
	GinkgoHelper()
	org := &tenancyv1alpha1.Organization{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
	return org.Status.Backend
}

// converged reads an organization and tells whether it converged.
func converged(name string) error {
	org := &tenancyv1alpha1.Organization{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, org); err != nil {
		return err
	}
	return convergence.Check(org)
}

// observerRetryBound is how long past a resync period an outage may take
// to show: the failing pass waits for server selection (1 s in tests) and
// its tenants are then reconciled.
const observerRetryBound = 3 * time.Second

func getBackend(name string) *tenancyv1alpha1.MongoBackend {
	GinkgoHelper()
	b := &tenancyv1alpha1.MongoBackend{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, b)).To(Succeed())
	return b
}

// waitBackendCondition waits until the backend's Ready condition has status and reason.
func waitBackendCondition(name string, status metav1.ConditionStatus, reason string) *tenancyv1alpha1.MongoBackend {
	GinkgoHelper()
	var b *tenancyv1alpha1.MongoBackend
	Eventually(func(g Gomega) {
		b = &tenancyv1alpha1.MongoBackend{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, b)).To(Succeed())
		c := meta.FindStatusCondition(b.Status.Conditions, tenancyv1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil(), "no Ready condition yet")
		g.Expect(c.Status).To(Equal(status), "%s: %s", c.Reason, c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
	}, timeout, interval).Should(Succeed())
	expectToolsAgree(b)
	return b
}

func waitBackendReady(name string) *tenancyv1alpha1.MongoBackend {
	GinkgoHelper()
	return waitBackendCondition(name, metav1.ConditionTrue, tenancyv1alpha1.ReasonSucceeded)
}

// newOrg builds an Organization on backend (empty: the operator chooses).
func newOrg(name, backend string, tenancy tenancyv1alpha1.Tenancy) *tenancyv1alpha1.Organization {
	return &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"},
			Tenancy: tenancy, Backend: backend, DeletionPolicy: tenancyv1alpha1.DeletionPolicyDelete}}
}

// createOrg creates org and deletes it (waiting until it is gone) after the spec.
func createOrg(org *tenancyv1alpha1.Organization) {
	GinkgoHelper()
	Expect(k8s.Create(ctx, org)).To(Succeed())
	name := org.Name
	DeferCleanup(func() { deleteOrgAndWait(name) })
}

func deleteOrgAndWait(name string) {
	GinkgoHelper()
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, org))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, org))
	}, timeout, interval).Should(BeTrue(), "organization %s was not deleted", name)
}

func waitReady(name string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	org, err := convergence.Wait(ctx, k8s, name, timeout)
	Expect(err).NotTo(HaveOccurred())
	return org
}

// waitOrgCondition waits until the organization's condition has status and reason.
func waitOrgCondition(name, typ string, status metav1.ConditionStatus, reason string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	var org *tenancyv1alpha1.Organization
	Eventually(func(g Gomega) {
		org = &tenancyv1alpha1.Organization{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
		c := meta.FindStatusCondition(org.Status.Conditions, typ)
		g.Expect(c).NotTo(BeNil(), "no %s condition yet", typ)
		g.Expect(c.Status).To(Equal(status), "%s: %s", c.Reason, c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
	}, timeout, interval).Should(Succeed())
	return org
}

func collectionOn(m *check.Mongo, name string) bool {
	GinkgoHelper()
	ok, err := m.CollectionExists(ctx, name)
	Expect(err).NotTo(HaveOccurred())
	return ok
}

// moveTo sets spec.backend.
func moveTo(name, backend string) {
	GinkgoHelper()
	org := &tenancyv1alpha1.Organization{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
	patch := client.MergeFrom(org.DeepCopy())
	org.Spec.Backend = backend
	Expect(k8s.Patch(ctx, org, patch)).To(Succeed())
}

// locationOf is the collection and query filter of an organization's documents.
func locationOf(org *tenancyv1alpha1.Organization) (string, bson.D) {
	if org.Status.DocumentFilter == "" {
		return org.Status.Collection, bson.D{}
	}
	return org.Status.Collection, bson.D{{Key: "organization", Value: org.Name}}
}

// tenantField is the organization field seeded documents carry ("" for a
// dedicated collection).
func tenantField(org *tenancyv1alpha1.Organization) string {
	if org.Status.DocumentFilter == "" {
		return ""
	}
	return org.Name
}

// expectDocuments compares the tenant's documents on a deployment, read
// independently, with want (nil: none).
func expectDocuments(m *check.Mongo, coll string, filter bson.D, want []string) {
	GinkgoHelper()
	got, err := m.Documents(ctx, coll, filter)
	Expect(err).NotTo(HaveOccurred())
	if want == nil {
		Expect(got).To(BeEmpty(), "documents left behind in %s", coll)
		return
	}
	Expect(got).To(HaveLen(len(want)), "not every document exactly once in %s", coll)
	Expect(got).To(Equal(want))
}

// expectLedger checks whether a deployment's ledger has the organization's entry.
func expectLedger(m *check.Mongo, org *tenancyv1alpha1.Organization, present bool) {
	GinkgoHelper()
	key := org.Status.Collection
	if org.Status.DocumentFilter != "" {
		key = org.Status.Collection + "/" + org.Name
	}
	e, err := m.LedgerEntry(ctx, key)
	Expect(err).NotTo(HaveOccurred())
	if present {
		Expect(e).NotTo(BeNil(), "no ledger entry %s", key)
		Expect(e.UID).To(Equal(string(org.UID)))
	} else {
		Expect(e).To(BeNil(), "ledger entry %s left behind", key)
	}
}

// condition is one condition of an organization, as text.
func condition(name, typ string) string {
	org := &tenancyv1alpha1.Organization{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, org); err != nil {
		return err.Error()
	}
	c := meta.FindStatusCondition(org.Status.Conditions, typ)
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
}

// commandsOn is the operator's org_operator_mongodb_commands_total summed
// over the commands sent to backend.
func commandsOn(backend string) float64 {
	GinkgoHelper()
	families, err := mgr.Metrics.Gather()
	Expect(err).NotTo(HaveOccurred())
	var n float64
	for _, f := range families {
		if f.GetName() != "org_operator_mongodb_commands_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// backendReady is the operator's org_operator_mongobackend_ready of backend (-1: absent).
func backendReady(backend string) float64 {
	GinkgoHelper()
	families, err := mgr.Metrics.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != "org_operator_mongobackend_ready" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
