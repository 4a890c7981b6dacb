//go:build integration

package access_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/argocdhealth"
)

// Argo CD's health check of OrganizationAccesses and kstatus (Flux,
// kubectl wait) must agree on every live object the suite waits for, as the
// controller suite requires of Organizations:
//
//	kstatus Current    <-> Argo CD Healthy
//	kstatus InProgress <-> Argo CD Progressing
//	kstatus Failed     <-> Argo CD Degraded
//
// With ARGOCD_TESTDATA=update the first object seen in each state is written
// to the health check's testdata folder (health_test.yaml lists the expected
// result of each).

// accessHealthStates the full suite must reach; AfterSuite checks it did.
var accessHealthStates = []string{
	"new", "ready", "changed", "waiting-" + tenancyv1alpha1.ReasonOrganizationNotReady,
	"stalled-" + tenancyv1alpha1.ReasonAccessNotAllowed,
	"stalled-" + tenancyv1alpha1.ReasonOrganizationNotFound,
	"stalled-" + tenancyv1alpha1.ReasonIsolationNotAvailable,
	"stalled-" + tenancyv1alpha1.ReasonInvalidSecretTemplate,
	"stalled-" + tenancyv1alpha1.ReasonSecretConflict,
	"stalled-" + tenancyv1alpha1.ReasonRolesUnsupported,
	"stalled-" + tenancyv1alpha1.ReasonAccessDisabled,
}

// reachedStates records the states the suite's OrganizationAccesses reached.
var reachedStates = &argocdhealth.States{Kind: "OrganizationAccess"}

// accessHealthState names the state an access is in, from the object alone.
func accessHealthState(a *tenancyv1alpha1.OrganizationAccess) string {
	return argocdhealth.StateOf(a, a.Status.ObservedGeneration, a.Status.Conditions)
}

// expectToolsAgree checks that kstatus and the Argo CD health check agree
// on a as served, and records its state.
func expectToolsAgree(a *tenancyv1alpha1.OrganizationAccess) {
	GinkgoHelper()
	state := accessHealthState(a)
	u, err := argocdhealth.Agree("OrganizationAccess", a, state)
	Expect(err).NotTo(HaveOccurred())
	Expect(reachedStates.Record(state, u)).To(Succeed())
}

// expectAllAccessHealthStatesSeen fails when the full suite ran and some
// state of accessHealthStates was never checked.
func expectAllAccessHealthStatesSeen() {
	suite, _ := GinkgoConfiguration()
	if len(suite.FocusStrings) > 0 || len(suite.FocusFiles) > 0 || len(suite.SkipStrings) > 0 || suite.LabelFilter != "" {
		return
	}
	Expect(reachedStates.Missing(accessHealthStates)).To(BeEmpty(), "states the differential Argo CD / kstatus check never saw")
}

var _ = Describe("An access to an organization without a collection yet", func() {
	It("waits (Reconciling, never Stalled) and becomes Ready once the organization has one", func() {
		ns := namespace("apps")
		name := unique("paused")
		org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{tenancyv1alpha1.AnnotationReconcile: tenancyv1alpha1.ReconcileDisabled}},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"},
				DeletionPolicy: tenancyv1alpha1.DeletionPolicyDelete, Access: &tenancyv1alpha1.AccessPolicy{Namespaces: []string{ns}}}}
		Expect(k8s.Create(ctx, org)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(ctx, org) })
		a := newAccess(ns, name)
		Eventually(func() string { return accessHealthState(getAccess(a)) }, timeout, interval).
			Should(Equal("waiting-" + tenancyv1alpha1.ReasonOrganizationNotReady))
		expectToolsAgree(getAccess(a))
		Consistently(func() string { return accessHealthState(getAccess(a)) }, 2*time.Second, interval).
			Should(Equal("waiting-"+tenancyv1alpha1.ReasonOrganizationNotReady), "a wait must not turn into a stall")
		Expect(connectionSecret(ns, a.Name)).To(BeNil())

		patchOrg(name, func(o *tenancyv1alpha1.Organization) { delete(o.Annotations, tenancyv1alpha1.AnnotationReconcile) })
		got := accessReady(a)
		Expect(authenticates(connectionSecret(ns, got.Status.SecretName))).To(Succeed())
	})
})

var _ = Describe("kubectl get organizationaccess", func() {
	It("shows Ready, Organization, Role, Isolation and Age, and Reason and Secret with -o wide", func() {
		ns := namespace("apps")
		org := organization("columns", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name, func(a *tenancyv1alpha1.OrganizationAccess) { a.Spec.SecretName = "db" }))
		var table metav1.Table
		gv := tenancyv1alpha1.GroupVersion
		raw, err := kubernetes.NewForConfigOrDie(testEnv.Config).Discovery().RESTClient().Get().
			AbsPath("/apis", gv.Group, gv.Version, "namespaces", ns, "organizationaccesses", a.Name).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(raw, &table)).To(Succeed())
		Expect(table.Rows).To(HaveLen(1))
		cells := map[string]any{}
		var wide []string
		for i, c := range table.ColumnDefinitions {
			cells[c.Name] = table.Rows[0].Cells[i]
			if c.Priority > 0 {
				wide = append(wide, c.Name)
			}
		}
		Expect(cells).To(HaveKeyWithValue("Ready", "True"))
		Expect(cells).To(HaveKeyWithValue("Organization", org.Name))
		Expect(cells).To(HaveKeyWithValue("Role", "ReadWrite"), "the default role is shown")
		Expect(cells).To(HaveKeyWithValue("Isolation", string(tenancyv1alpha1.IsolationNotEnforced)))
		Expect(cells).To(HaveKey("Age"))
		Expect(cells).To(HaveKeyWithValue("Reason", tenancyv1alpha1.ReasonSucceeded))
		Expect(cells).To(HaveKeyWithValue("Secret", "db"))
		Expect(wide).To(ConsistOf("Reason", "Secret"))
	})
})
