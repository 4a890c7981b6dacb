//go:build integration

// Package audit runs `manager audit`, the real binary, against a real
// apiserver and FerretDB after creating every kind of finding it reports.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/audit"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

func TestAudit(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "manager audit")
}

var (
	ctx        = context.Background()
	env        *testenv.Environment
	bin        string
	kubeconfig string
)

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	var err error
	env, err = testenv.StartEnvironment(testenv.EnvironmentOptions{Authentication: true}) // users to audit
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
	dir := GinkgoT().TempDir()
	bin, err = controlplane.BuildManager(dir)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, env.Env.KubeConfig, 0o600)).To(Succeed())
})

// runAudit runs `manager audit` and returns its stdout and exit status.
func runAudit(args ...string) (string, int) {
	cmd := exec.Command(bin, append([]string{"audit", "--mongodb-database", env.Database}, args...)...)
	cmd.Env = []string{"KUBECONFIG=" + kubeconfig, "MONGODB_URI=" + env.Mongo.URI(), "HOME=" + os.Getenv("HOME")}
	cmd.Stderr = GinkgoWriter
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	Expect(err).NotTo(HaveOccurred())
	return string(out), 0
}

func org(name string) *tenancyv1alpha1.Organization {
	return &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"}}}
}

func waitReady(name string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	o, err := convergence.Wait(ctx, env.Client, name, 30*time.Second)
	Expect(err).NotTo(HaveOccurred())
	return o
}

var _ = Describe("manager audit", func() {
	It("reports nothing (exit 0) on a clean installation", func() {
		out, code := runAudit()
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("Nothing needs attention"))
	})

	It("lists every kind of finding, as a table and as JSON, and exits 3", func() {
		mgr, err := env.StartInProcessManager(testenv.Options{})
		Expect(err).NotTo(HaveOccurred())
		// A retained tenant, with 3 documents.
		Expect(env.Client.Create(ctx, org("kept"))).To(Succeed())
		keptUID := string(waitReady("kept").UID)
		for i := range 3 {
			Expect(env.Seed.InsertMany(ctx, "org_kept", []any{bson.D{{Key: "i", Value: i}}})).To(Succeed())
		}
		Expect(env.Client.Delete(ctx, org("kept"))).To(Succeed())
		Eventually(func() error { return env.Client.Get(ctx, client.ObjectKey{Name: "kept"}, org("x")) }, 30*time.Second).Should(HaveOccurred())
		// An application's access, Ready (its user is owned), and access
		// users nobody owns: one of an access deleted behind the operator's
		// back, one the naming scheme does not produce.
		bound := org("bound")
		bound.Spec.Access = &tenancyv1alpha1.AccessPolicy{Namespaces: []string{"default"}}
		Expect(env.Client.Create(ctx, bound)).To(Succeed())
		waitReady("bound")
		app := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "app"},
			Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: "bound"}}
		Expect(env.Client.Create(ctx, app)).To(Succeed())
		Eventually(func() string {
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
			return app.Status.Username
		}, 30*time.Second).ShouldNot(BeEmpty())
		// An Organization whose collection goes missing (dropped while no manager runs).
		Expect(env.Client.Create(ctx, org("hollow"))).To(Succeed())
		waitReady("hollow")
		Expect(mgr.Stop()).To(Succeed())
		Expect(env.Seed.Drop(ctx, "org_hollow")).To(Succeed())
		// A collection nobody owns, an admin record without an Organization,
		// and a tenant of another cluster.
		Expect(env.Seed.InsertMany(ctx, "org_stray", []any{bson.D{{Key: "left", Value: "behind"}}})).To(Succeed())
		Expect(env.Seed.Upsert(ctx, "admins", "g", bson.D{{Key: "_id", Value: "g"}, {Key: "organization", Value: "ghost"},
			{Key: "email", Value: "ghost@ghost.example"}, {Key: "passwordHash", Value: "x"}})).To(Succeed())
		Expect(env.Seed.LedgerEntry(ctx, "foreign", "uid-f", "cluster-b", "active")).To(Succeed())
		Expect(env.Seed.CreateUser(ctx, "oa.bound.0b5e55ed-dead-4bad-beef-000000000000.a", "left-over-password")).To(Succeed())
		Expect(env.Seed.CreateUser(ctx, "oa.handmade", "handmade-password")).To(Succeed())

		table, code := runAudit()
		Expect(code).To(Equal(3), table)
		for _, want := range []string{"RETAINED TENANTS", "kept", keptUID, "tenancy.org-operator.io/adopt-data=" + keptUID,
			"COLLECTIONS NOBODY OWNS", "org_stray", "ADMIN RECORDS WITHOUT AN ORGANIZATION", "ghost@ghost.example",
			"ORGANIZATIONS WHOSE COLLECTION IS MISSING", "hollow", "TENANTS OF OTHER CLUSTERS", "cluster-b", "--cluster-id",
			"ACCESS USERS NO ORGANIZATIONACCESS OWNS", "oa.bound.0b5e55ed-dead-4bad-beef-000000000000.a", "oa.handmade"} {
			Expect(table).To(ContainSubstring(want))
		}

		out, code := runAudit("-o", "json")
		Expect(code).To(Equal(3))
		var r audit.Report
		Expect(json.Unmarshal([]byte(out), &r)).To(Succeed(), out)
		Expect(r.Retained).To(ConsistOf(HaveField("Name", "kept")))
		Expect(r.Retained[0].Documents).To(Equal(int64(3)))
		Expect(r.Retained[0].UID).To(Equal(keptUID))
		Expect(r.OrphanCollections).To(ConsistOf(audit.OrphanCollection{Collection: "org_stray", Documents: 1}))
		Expect(r.OrphanAdmins).To(ConsistOf(audit.OrphanAdmin{Organization: "ghost", Email: "ghost@ghost.example"}))
		Expect(r.MissingLocations).To(ConsistOf(audit.MissingLocation{Organization: "hollow", Location: "org_hollow"}))
		Expect(r.OtherClusters).To(ConsistOf(audit.OtherCluster{Cluster: "cluster-b", Entries: 1, Tenants: []string{"foreign"}}))
		Expect(r.OrphanAccessUsers).To(Equal([]audit.OrphanAccessUser{
			{User: "oa.bound.0b5e55ed-dead-4bad-beef-000000000000.a", Organization: "bound"}, {User: "oa.handmade"}}),
			"the access's own user %s is owned", app.Status.Username)
		Expect(r.OrphanAccessRoles).To(BeEmpty()) // FerretDB v1 has no roles
	})

	It("refuses bad flags in one line with exit 2", func() {
		out, code := runAudit("-o", "yaml")
		Expect(code).To(Equal(2), out)
	})
})
