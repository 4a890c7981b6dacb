//go:build integration

package controller_test

import (
	"regexp"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
)

// ids takes the generated parts out of a request path, so that writes
// compare by kind: ".../organizations/writes-3f2a/status" becomes
// ".../organizations/ORG/status".
func ids(writes []string, name string) []string {
	org := regexp.MustCompile(regexp.QuoteMeta(name))
	out := make([]string, len(writes))
	for i, w := range writes {
		out[i] = org.ReplaceAllString(w, "ORG")
	}
	slices.Sort(out)
	return out
}

var _ = Describe("9b. Writes per new organization", func() {
	DescribeTable("a new organization costs four API writes (finalizer, Secret, one event, status) and few MongoDB writes",
		func(tenancy tenancyv1alpha1.Tenancy, mongoWrites int64) {
			// A first organization of the kind pays the process's one-time
			// costs (the shared collection and its index, the ledger's index).
			warm := newOrg(uniqueName("warm"))
			warm.Spec.Tenancy = tenancy
			createOrg(warm)
			waitReady(warm.Name)
			time.Sleep(time.Second) // let trailing events go out
			name := uniqueName("writes")
			org := newOrg(name)
			org.Spec.Tenancy = tenancy
			api, mongo, before := mgr.KubeWrites.Count(), mgr.Commands.Writes(), mgr.Commands.Snapshot()
			createOrg(org)
			waitReady(name)
			Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(
				Equal([]string{controller.EventProvisioned}), "one Normal event for a provisioned tenant")
			time.Sleep(resyncPeriod) // anything trailing lands in the count
			writes := mgr.KubeWrites.Since(api)
			sent := mgr.Commands.Since(before)
			GinkgoWriter.Printf("%s: %d API writes %v, %d MongoDB writes; commands %v\n", tenancy, len(writes), writes, mgr.Commands.Writes()-mongo, sent)
			Expect(ids(writes, name)).To(Equal([]string{
				"PATCH /apis/tenancy.org-operator.io/v1alpha1/organizations/ORG",
				"PATCH /apis/tenancy.org-operator.io/v1alpha1/organizations/ORG/status",
				"POST /api/v1/namespaces/" + credNS + "/secrets",
				"POST /apis/events.k8s.io/v1/namespaces/default/events",
			}))
			Expect(mgr.Commands.Writes()-mongo).To(Equal(mongoWrites), "MongoDB writes for a new %s organization; commands: %v", tenancy, sent)
		},
		// Dedicated: create org_<name>, claim it in the ledger, insert the
		// admin record. Shared: the ledger claim and the admin record.
		Entry("Dedicated", tenancyv1alpha1.TenancyDedicated, int64(3)),
		Entry("Shared", tenancyv1alpha1.TenancyShared, int64(2)),
	)

	It("tells in its one Provisioned event what was created", func() {
		name := uniqueName("told")
		createOrg(newOrg(name))
		waitReady(name)
		Eventually(func() []string { return eventNotes(name) }, timeout, interval).Should(ConsistOf(
			"Created collection " + database + ".org_" + name + ", generated the admin password in Secret " + credNS + "/" +
				tenancyv1alpha1.CredentialsSecretName(name) + " and created the admin account"))
	})
})
