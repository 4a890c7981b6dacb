//go:build integration

package access_test

import (
	"context"
	"fmt"
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
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// The application-access suite: a real apiserver, FerretDB as its own
// process with users and SCRAM (the operator connecting as its own user),
// the operator in-process. Every check reads the cluster through an
// uncached client and MongoDB through internal/testsupport/check, and
// applications connect with what their Secret holds.

func TestAccess(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Application access suite (envtest + FerretDB with authentication)")
}

const (
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
	// grace is --access-rotation-grace here: short, so retirement shows.
	grace = 4 * time.Second
)

var (
	ctx     = context.Background()
	testEnv *testenv.Environment
	k8s     client.Client
	reader  *check.Mongo
	mgr     *testenv.InProcessManager
	seq     int
)

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, err = testenv.StartEnvironment(testenv.EnvironmentOptions{Authentication: true})
	Expect(err).NotTo(HaveOccurred())
	k8s, reader = testEnv.Client, testEnv.Check
	mgr, err = testEnv.StartInProcessManager(testenv.Options{ResyncPeriod: 3 * time.Second, AccessRotationGrace: grace})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	expectAllAccessHealthStatesSeen()
	if mgr != nil {
		Expect(mgr.Stop()).To(Succeed())
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// restartManager runs the manager again with o and the suite's defaults.
func restartManager(o testenv.Options) {
	GinkgoHelper()
	Expect(mgr.Stop()).To(Succeed())
	o.ResyncPeriod, o.AccessRotationGrace = 3*time.Second, grace
	var err error
	mgr, err = testEnv.StartInProcessManager(o)
	Expect(err).NotTo(HaveOccurred())
}

func unique(prefix string) string {
	seq++
	return fmt.Sprintf("%s-%d", prefix, seq)
}

// namespace creates a namespace and deletes it after the spec.
func namespace(prefix string) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unique(prefix)}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func() { _ = k8s.Delete(ctx, ns) })
	return ns.Name
}

// organization creates a Ready Organization allowing namespaces and deletes it after the spec.
func organization(prefix string, tenancy tenancyv1alpha1.Tenancy, namespaces ...string) *tenancyv1alpha1.Organization {
	GinkgoHelper()
	name := unique(prefix)
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"},
			Tenancy: tenancy, DeletionPolicy: tenancyv1alpha1.DeletionPolicyDelete}}
	if len(namespaces) > 0 {
		org.Spec.Access = &tenancyv1alpha1.AccessPolicy{Namespaces: namespaces}
	}
	Expect(k8s.Create(ctx, org)).To(Succeed())
	DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, org)) })
	org, err := convergence.Wait(ctx, k8s, name, timeout)
	Expect(err).NotTo(HaveOccurred())
	return org
}

// newAccess creates an OrganizationAccess in ns for org, changed by mutate.
func newAccess(ns, org string, mutate ...func(*tenancyv1alpha1.OrganizationAccess)) *tenancyv1alpha1.OrganizationAccess {
	GinkgoHelper()
	a := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: unique("app")},
		Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: org}}
	for _, m := range mutate {
		m(a)
	}
	Expect(k8s.Create(ctx, a)).To(Succeed())
	DeferCleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(ctx, a)) })
	expectToolsAgree(a) // as the apiserver answered the create
	return a
}

func getAccess(a *tenancyv1alpha1.OrganizationAccess) *tenancyv1alpha1.OrganizationAccess {
	GinkgoHelper()
	got := &tenancyv1alpha1.OrganizationAccess{}
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), got)).To(Succeed())
	return got
}

// accessReady waits until the access is Ready for its current generation.
func accessReady(a *tenancyv1alpha1.OrganizationAccess) *tenancyv1alpha1.OrganizationAccess {
	GinkgoHelper()
	var got *tenancyv1alpha1.OrganizationAccess
	Eventually(func() string {
		got = getAccess(a)
		c := meta.FindStatusCondition(got.Status.Conditions, tenancyv1alpha1.ConditionReady)
		switch {
		case c == nil:
			return "no Ready condition"
		case c.Status != metav1.ConditionTrue:
			return c.Reason + ": " + c.Message
		case got.Status.ObservedGeneration != got.Generation:
			return "observedGeneration behind"
		}
		return ""
	}, timeout, interval).Should(BeEmpty(), "access %s/%s Ready", a.Namespace, a.Name)
	expectToolsAgree(got)
	return got
}

// accessStalled waits until the access is Stalled with reason and returns it.
func accessStalled(a *tenancyv1alpha1.OrganizationAccess, reason string) *tenancyv1alpha1.OrganizationAccess {
	GinkgoHelper()
	var got *tenancyv1alpha1.OrganizationAccess
	Eventually(func() string {
		got = getAccess(a)
		if c := meta.FindStatusCondition(got.Status.Conditions, tenancyv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
			return c.Reason
		}
		return "not stalled"
	}, timeout, interval).Should(Equal(reason))
	expectToolsAgree(got)
	return got
}

// connectionSecret reads the access's Secret through the apiserver (as
// the kubelet does for a pod); nil when there is none.
func connectionSecret(ns, name string) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
		return nil
	}
	return s
}

// accessUsers lists the MongoDB users of the access (by its UID).
func accessUsers(a *tenancyv1alpha1.OrganizationAccess) []string {
	GinkgoHelper()
	users, err := reader.Users(ctx, tenancyv1alpha1.AccessUserPrefix)
	Expect(err).NotTo(HaveOccurred())
	var mine []string
	for _, u := range users {
		if containsUID(u, string(a.UID)) {
			mine = append(mine, u)
		}
	}
	return mine
}

func containsUID(user, uid string) bool {
	return uid != "" && len(user) > len(uid) && (user[len(user)-len(uid)-2:len(user)-2] == uid)
}
