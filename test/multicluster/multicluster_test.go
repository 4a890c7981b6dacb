//go:build integration

// Package multicluster runs several real control planes (envtest) against
// one FerretDB: two clusters sharing a database must never adopt or drop
// each other's data, and a control plane rebuilt from Git with the same
// cluster id must find every tenant again.
package multicluster

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	seeding "github.com/org-operator/org-operator/internal/testsupport/seed"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

func TestMultiCluster(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Clusters sharing one database, and disaster recovery")
}

const (
	credNS   = tenancyv1alpha1.DefaultCredentialsNamespace
	database = "orgs"
)

var (
	ctx   = context.Background()
	mongo *ferretdb.Server
	// db reads MongoDB independently of the code under test, sd writes it.
	db *check.Mongo
	sd *seeding.Mongo
)

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	var err error
	mongo, err = ferretdb.Start(ferretdb.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(mongo.Close)
	db, err = check.ConnectMongo(mongo.URI(), database)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = db.Close(ctx) })
	sd, err = seeding.ConnectMongo(mongo.URI(), database)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = sd.Close(ctx) })
})

// cluster is one control plane with a manager (and its REST API).
type cluster struct {
	env *envtest.Environment
	k8s client.Client
	mgr *testenv.InProcessManager
}

// startCluster starts a control plane and a manager on the shared store;
// clusterID "" means the default (the kube-system namespace's UID).
func startCluster(clusterID string) *cluster {
	env, cfg, err := controlplane.Start()
	Expect(err).NotTo(HaveOccurred())
	c := &cluster{env: env}
	DeferCleanup(c.stop)
	c.k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(controlplane.CreateNamespaces(ctx, c.k8s)).To(Succeed())
	c.startManager(cfg, clusterID)
	return c
}

func (c *cluster) startManager(cfg *rest.Config, clusterID string) {
	api := restapi.DefaultConfig()
	api.LoginRate, api.LoginBurst = 1000, 1000
	var err error
	c.mgr, err = testenv.StartInProcessManager(cfg, testenv.Options{MongoURI: mongo.URI(), Database: database, CredentialsNamespace: credNS,
		ResyncPeriod: 2 * time.Second, API: &api, ClusterID: clusterID})
	Expect(err).NotTo(HaveOccurred())
}

// stop throws the control plane away (etcd's data with it).
func (c *cluster) stop() {
	if c.mgr != nil {
		Expect(c.mgr.Stop()).To(Succeed())
		c.mgr = nil
	}
	if c.env != nil {
		Expect(c.env.Stop()).To(Succeed())
		c.env = nil
	}
}

func (c *cluster) apply(objs ...client.Object) {
	for _, o := range objs {
		Expect(c.k8s.Create(ctx, o)).To(Succeed(), "%T %s", o, o.GetName())
	}
}

func (c *cluster) get(name string) *tenancyv1alpha1.Organization {
	o := &tenancyv1alpha1.Organization{}
	Expect(c.k8s.Get(ctx, client.ObjectKey{Name: name}, o)).To(Succeed())
	return o
}

func (c *cluster) waitReady(name string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	o, err := convergence.Wait(ctx, c.k8s, name, 60*time.Second)
	Expect(err).NotTo(HaveOccurred())
	return o
}

func (c *cluster) waitStalled(name, reason string) *tenancyv1alpha1.Organization {
	var o *tenancyv1alpha1.Organization
	Eventually(func(g Gomega) {
		o = c.get(name)
		s := meta.FindStatusCondition(o.Status.Conditions, tenancyv1alpha1.ConditionStalled)
		g.Expect(s).NotTo(BeNil())
		g.Expect(s.Reason).To(Equal(reason), s.Message)
	}, 60*time.Second, 100*time.Millisecond).Should(Succeed())
	return o
}

func (c *cluster) deleteAndWait(name string) {
	Expect(client.IgnoreNotFound(c.k8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
	Eventually(func() error { return c.k8s.Get(ctx, client.ObjectKey{Name: name}, &tenancyv1alpha1.Organization{}) }, 60*time.Second).
		Should(HaveOccurred())
}

func (c *cluster) login(email, password string) int {
	r, err := apiclient.Do(ctx, c.mgr.APIURL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": password})
	Expect(err).NotTo(HaveOccurred())
	return r.Status
}

func organization(name string, policy tenancyv1alpha1.DeletionPolicy) *tenancyv1alpha1.Organization {
	return &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"}, DeletionPolicy: policy}}
}

func seed(name string, n int) {
	for i := range n {
		Expect(sd.InsertMany(ctx, "org_"+name, []any{bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%d", name, i)}}})).To(Succeed())
	}
}

func documents(name string) int64 {
	n, err := db.Count(ctx, "org_"+name, nil)
	Expect(err).NotTo(HaveOccurred())
	return n
}

var _ = Describe("Two clusters sharing one database", Ordered, func() {
	var a, b *cluster
	BeforeAll(func() {
		a, b = startCluster(""), startCluster("")
	})

	It("each knows itself by its own cluster id", func() {
		a.apply(organization("ours-a", tenancyv1alpha1.DeletionPolicyRetain))
		b.apply(organization("ours-b", tenancyv1alpha1.DeletionPolicyRetain))
		a.waitReady("ours-a")
		b.waitReady("ours-b")
		ea, err := db.LedgerEntry(ctx, "org_ours-a")
		Expect(err).NotTo(HaveOccurred())
		eb, err := db.LedgerEntry(ctx, "org_ours-b")
		Expect(err).NotTo(HaveOccurred())
		Expect(ea.Cluster).NotTo(Equal(eb.Cluster))
	})

	It("neither adopts nor drops the other's data", func() {
		a.apply(organization("acme", tenancyv1alpha1.DeletionPolicyRetain))
		aUID := string(a.waitReady("acme").UID)
		seed("acme", 4)

		// Cluster B declares an organization of the same name.
		b.apply(organization("acme", tenancyv1alpha1.DeletionPolicyDelete))
		org := b.waitStalled("acme", tenancyv1alpha1.ReasonOwnedByAnotherCluster)
		Expect(org.Status.Collection).To(BeEmpty())
		// Its deletion (deletionPolicy Delete) drops nothing of A's.
		b.deleteAndWait("acme")
		Expect(documents("acme")).To(Equal(int64(4)))
		a.waitReady("acme")

		// A retains its tenant; B's explicit adoption of it is still refused.
		a.deleteAndWait("acme")
		adopter := organization("acme", tenancyv1alpha1.DeletionPolicyDelete)
		adopter.Annotations = map[string]string{tenancyv1alpha1.AnnotationAdoptData: aUID}
		b.apply(adopter)
		b.waitStalled("acme", tenancyv1alpha1.ReasonOwnedByAnotherCluster)
		b.deleteAndWait("acme")
		Expect(documents("acme")).To(Equal(int64(4)), "data of another cluster was dropped")
		e, err := db.LedgerEntry(ctx, "org_acme")
		Expect(err).NotTo(HaveOccurred())
		Expect(e.State).To(Equal("retained"))
	})
})

var _ = Describe("Disaster recovery", Ordered, func() {
	const clusterID = "prod-eu-1"
	// manifests is what Git holds: re-applied to the rebuilt cluster.
	manifests := func() []client.Object {
		refSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: "dr-ref-password",
			Labels: map[string]string{tenancyv1alpha1.LabelOrganization: "dr-ref"}},
			StringData: map[string]string{"password": "the platform's password 1"}}
		ref := organization("dr-ref", tenancyv1alpha1.DeletionPolicyRetain)
		ref.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: refSecret.Name}
		return []client.Object{refSecret, ref, organization("dr-gen", tenancyv1alpha1.DeletionPolicyRetain)}
	}

	It("a control plane rebuilt with the same cluster id picks every tenant up; retained data stays retained", func() {
		first := startCluster(clusterID)
		first.apply(manifests()...)
		first.apply(organization("dr-kept", tenancyv1alpha1.DeletionPolicyRetain))
		for _, n := range []string{"dr-ref", "dr-gen", "dr-kept"} {
			first.waitReady(n)
			seed(n, 3)
		}
		first.deleteAndWait("dr-kept") // retained before the disaster
		s := &corev1.Secret{}
		Expect(first.k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.CredentialsSecretName("dr-gen")}, s)).To(Succeed())
		lostPassword := string(s.Data["password"])
		first.stop() // the control plane, etcd included, is gone; MongoDB keeps everything

		second := startCluster(clusterID)
		second.apply(manifests()...)                                                // Git re-applied: new UIDs
		second.apply(organization("dr-kept", tenancyv1alpha1.DeletionPolicyRetain)) // even this one
		for _, n := range []string{"dr-ref", "dr-gen"} {
			org := second.waitReady(n)
			Expect(documents(n)).To(Equal(int64(3)), "%s lost its documents", n)
			e, err := db.LedgerEntry(ctx, "org_"+n)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.UID).To(Equal(string(org.UID)), "the restored organization owns its data")
		}
		// The platform's password Secret survived in Git: the admin logs in as before.
		Expect(second.login("admin@dr-ref.example", "the platform's password 1")).To(Equal(http.StatusOK))
		// A generated password lived only in the lost cluster: a new one replaces it.
		Expect(second.login("admin@dr-gen.example", lostPassword)).To(Equal(http.StatusUnauthorized))
		Expect(second.k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.CredentialsSecretName("dr-gen")}, s)).To(Succeed())
		Expect(second.login("admin@dr-gen.example", string(s.Data["password"]))).To(Equal(http.StatusOK))
		// Nothing retained was adopted.
		org := second.waitStalled("dr-kept", tenancyv1alpha1.ReasonRetainedDataExists)
		Expect(org.Status.Collection).To(BeEmpty())
		Expect(documents("dr-kept")).To(Equal(int64(3)))
	})
})
