//go:build integration

package backend_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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

// expectToolsAgree checks that kstatus and the Argo CD health check agree
// on b as served, and records its state.
func expectToolsAgree(b *tenancyv1alpha1.MongoBackend) {
	GinkgoHelper()
	state := argocdhealth.StateOf(b, b.Status.ObservedGeneration, b.Status.Conditions)
	u, err := argocdhealth.Agree("MongoBackend", b, state)
	Expect(err).NotTo(HaveOccurred())
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
