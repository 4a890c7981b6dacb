//go:build integration

package controller_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	seeding "github.com/org-operator/org-operator/internal/testsupport/seed"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
)

const (
	credNS       = "org-operator-credentials"
	database     = "orgs"
	resyncPeriod = 2 * time.Second
)

var (
	ctx      context.Context
	testEnv  *testenv.Environment
	k8s      client.Client // uncached, for assertions
	mongoSrv ferretdb.Instance
	// reader checks MongoDB independently of the code under test;
	// writer changes it behind the system's back (drift, seeding).
	reader    *check.Mongo
	writer    *seeding.Mongo
	mgr       *testenv.InProcessManager
	timeout   = 30 * time.Second
	interval  = 100 * time.Millisecond
	nameIndex int
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Organization controller suite (envtest + FerretDB)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx = context.Background()
	var err error
	testEnv, err = testenv.StartEnvironment(testenv.EnvironmentOptions{Database: database, CredentialsNamespace: credNS})
	Expect(err).NotTo(HaveOccurred())
	k8s, mongoSrv = testEnv.Client, testEnv.Mongo
	reader, writer = testEnv.Check, testEnv.Seed
	mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: resyncPeriod})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if mgr != nil {
		Expect(mgr.Stop()).To(Succeed())
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
	expectAllHealthStatesSeen()
})

// uniqueName returns a fresh organization name for one spec.
func uniqueName(prefix string) string {
	nameIndex++
	return fmt.Sprintf("%s-%d", prefix, nameIndex)
}

// newOrg builds an Organization with a generated password.
func newOrg(name string) *tenancyv1alpha1.Organization {
	return &tenancyv1alpha1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{
			DisplayName: "Org " + name,
			Admin:       tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"},
		},
	}
}

// createOrg creates org and registers its deletion (waiting until it is gone).
func createOrg(org *tenancyv1alpha1.Organization) {
	Expect(k8s.Create(ctx, org)).To(Succeed())
	name := org.Name
	DeferCleanup(func() { deleteOrgAndWait(name) })
}

func deleteOrgAndWait(name string) {
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, org))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, org))
	}, timeout, interval).Should(BeTrue(), "organization %s was not deleted", name)
}

func getOrg(name string) *tenancyv1alpha1.Organization {
	org := &tenancyv1alpha1.Organization{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
	return org
}

func condition(org *tenancyv1alpha1.Organization, typ string) *metav1.Condition {
	return meta.FindStatusCondition(org.Status.Conditions, typ)
}

// waitCondition waits until the organization's condition has status and reason.
func waitCondition(name, typ string, status metav1.ConditionStatus, reason string) *tenancyv1alpha1.Organization {
	var org *tenancyv1alpha1.Organization
	Eventually(func(g Gomega) {
		org = &tenancyv1alpha1.Organization{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, org)).To(Succeed())
		c := condition(org, typ)
		g.Expect(c).NotTo(BeNil(), "no %s condition yet", typ)
		g.Expect(c.Status).To(Equal(status), "%s: %s", c.Reason, c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
	}, timeout, interval).Should(Succeed())
	checkToolsAgree(name)
	return org
}

// waitReady waits until the organization converged (convergence.Check:
// Ready for its current generation, no move in flight).
func waitReady(name string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	org, err := convergence.Wait(ctx, k8s, name, timeout)
	Expect(err).NotTo(HaveOccurred())
	checkToolsAgree(name)
	return org
}

func ownedSecret(name string) *corev1.Secret {
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.CredentialsSecretName(name)}, s)).To(Succeed())
	return s
}

// admin reads an organization's admin record; nil when there is none.
func admin(name string) *check.Admin {
	GinkgoHelper()
	a, err := reader.Admin(ctx, name)
	Expect(err).NotTo(HaveOccurred())
	return a
}

// dropAdmin deletes an organization's admin record behind the controller's back.
func dropAdmin(name string) {
	GinkgoHelper()
	Expect(writer.DeleteMany(ctx, "admins", bson.D{{Key: "organization", Value: name}})).To(Equal(int64(1)))
}

// eventReasons lists the reasons of the events recorded about an organization.
func eventReasons(name string) []string {
	var list eventsv1.EventList
	Expect(k8s.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Organization" && e.Regarding.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	sort.Strings(reasons)
	return reasons
}

// eventNotes lists the notes of the events recorded about an organization.
func eventNotes(name string) []string {
	var list eventsv1.EventList
	Expect(k8s.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// restartMongo starts the stopped FerretDB server again and waits until the
// test's own connection works (its pooled connections died with the server).
func restartMongo() {
	Expect(mongoSrv.Start()).To(Succeed())
	Eventually(func() error { return errors.Join(reader.Ping(ctx), writer.Ping(ctx)) }, timeout, interval).Should(Succeed())
}
