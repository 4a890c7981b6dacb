//go:build integration

package backend_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/argocdhealth"
)

// Argo CD's health check of MongoBackends and kstatus (Flux, kubectl wait)
// must agree on every live MongoBackend the suite waits for, as the other
// suites require of Organizations and OrganizationAccesses:
//
//	kstatus Current     <-> Argo CD Healthy
//	kstatus InProgress  <-> Argo CD Progressing
//	kstatus Terminating <-> Argo CD Progressing
//	kstatus Failed      <-> Argo CD Degraded
//
// With ARGOCD_TESTDATA=update the first object seen in each state is
// written to the health check's testdata folder.

// backendHealthStates the full suite must reach; AfterSuite checks it did.
var backendHealthStates = []string{
	"ready", "deleting",
	"waiting-" + tenancyv1alpha1.ReasonMongoUnavailable,
	"stalled-" + tenancyv1alpha1.ReasonSecretNotFound,
	"stalled-" + tenancyv1alpha1.ReasonInvalidURI,
	"stalled-" + tenancyv1alpha1.ReasonDefaultConflict,
}

var reachedStates = &argocdhealth.States{Kind: "MongoBackend"}

// backendHealthState names the state a MongoBackend is in, from the object alone.
func backendHealthState(b *tenancyv1alpha1.MongoBackend) string {
	ready := meta.FindStatusCondition(b.Status.Conditions, tenancyv1alpha1.ConditionReady)
	stalled := meta.FindStatusCondition(b.Status.Conditions, tenancyv1alpha1.ConditionStalled)
	reconciling := meta.FindStatusCondition(b.Status.Conditions, tenancyv1alpha1.ConditionReconciling)
	switch {
	case b.DeletionTimestamp != nil:
		return "deleting"
	case b.Status.ObservedGeneration == 0 && len(b.Status.Conditions) == 0:
		return "new"
	case stalled != nil && stalled.Status == metav1.ConditionTrue && b.Status.ObservedGeneration == b.Generation:
		return "stalled-" + stalled.Reason
	case reconciling != nil && reconciling.Status == metav1.ConditionTrue:
		return "waiting-" + reconciling.Reason
	case b.Status.ObservedGeneration < b.Generation:
		return "changed"
	case ready != nil && ready.Status == metav1.ConditionTrue:
		return "ready"
	}
	return "reconciling"
}

// expectToolsAgree checks that kstatus and the Argo CD health check agree
// on b as served, and records its state.
func expectToolsAgree(b *tenancyv1alpha1.MongoBackend) {
	GinkgoHelper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	Expect(err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(tenancyv1alpha1.GroupVersion.WithKind("MongoBackend"))
	state := backendHealthState(b)
	v, err := argocdhealth.Judge("MongoBackend", u)
	Expect(err).NotTo(HaveOccurred())
	Expect(v.Disagreement(b.Name, state)).To(Succeed())
	Expect(reachedStates.Record(state, u)).To(Succeed())
}

// expectAllBackendHealthStatesSeen fails when the full suite ran and some
// state of backendHealthStates was never checked.
func expectAllBackendHealthStatesSeen() {
	suite, _ := GinkgoConfiguration()
	if len(suite.FocusStrings) > 0 || len(suite.FocusFiles) > 0 || len(suite.SkipStrings) > 0 || suite.LabelFilter != "" {
		return
	}
	Expect(reachedStates.Missing(backendHealthStates)).To(BeEmpty(), "states the differential Argo CD / kstatus check never saw")
}
