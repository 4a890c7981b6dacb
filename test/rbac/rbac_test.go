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

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

const (
	// namespace is the operator's, credentials the tenants' Secrets'.
	namespace      = "org-operator-system"
	credentials    = "org-operator-credentials"
	serviceAccount = "system:serviceaccount:org-operator-system:org-operator-controller-manager"
)

func TestRBAC(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Deployed RBAC suite")
}

var (
	ctx     = context.Background()
	testEnv *testenv.Environment
	mgr     *testenv.InProcessManager
	asSA    client.Client
)

// installRBAC applies the ServiceAccount and every RBAC object of config/default.
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
		case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			Expect(c.Create(ctx, u)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
			applied++
		}
	}
	Expect(applied).To(BeNumerically(">=", 10))
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, err = testenv.StartEnvironment(testenv.EnvironmentOptions{CredentialsNamespace: credentials, OperatorNamespace: namespace})
	Expect(err).NotTo(HaveOccurred())
	installRBAC(testEnv.Client)
	user, err := testEnv.Env.AddUser(envtest.User{Name: serviceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	asSA, err = client.New(user.Config(), client.Options{Scheme: testenv.Scheme})
	Expect(err).NotTo(HaveOccurred())
	apiCfg := restapi.DefaultConfig()
	mgr, err = testenv.StartInProcessManager(user.Config(), testenv.Options{
		MongoURI: testEnv.Mongo.URI(), Database: testEnv.Database, CredentialsNamespace: credentials, OperatorNamespace: namespace, API: &apiCfg,
	})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if mgr != nil {
		Expect(mgr.Stop()).To(Succeed())
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
		_, err := check.WaitConverged(ctx, testEnv.Client, org.Name, 30*time.Second)
		Expect(err).NotTo(HaveOccurred())

		Eventually(func() int {
			var list eventsv1.EventList
			Expect(testEnv.Client.List(ctx, &list, client.InNamespace("default"))).To(Succeed())
			n := 0
			for _, e := range list.Items {
				if e.Regarding.Name == "rbac" {
					n++
				}
			}
			return n
		}, 10*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 3), "events could not be recorded")

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
		mongoSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: tenancyv1alpha1.MongoDBSecret},
			StringData: map[string]string{"uri": "mongodb://operator:secret@db/"}}
		Expect(testEnv.Client.Create(ctx, mongoSecret)).To(Succeed())
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
