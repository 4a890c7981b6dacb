//go:build integration

package controller_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/check"
)

// gauges returns the samples of the gauge family name, keyed by their labels
// (label=value pairs in the order exported), from the manager's registry.
func gauges(name string) map[string]float64 {
	GinkgoHelper()
	families, err := mgr.Metrics.Gather()
	Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf("%s=%s,", l.GetName(), l.GetValue())
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

// counterValue sums the samples of the family name in the manager's
// registry whose labels include want (check.Sum).
func counterValue(name string, want map[string]string) float64 {
	GinkgoHelper()
	families, err := mgr.Metrics.Gather()
	Expect(err).NotTo(HaveOccurred())
	byName := make(map[string]*dto.MetricFamily, len(families))
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return check.Sum(byName, name, want)
}

// conditionSeries maps each condition type exported for organization to
// "status/reason".
func conditionSeries(organization string) map[string]string {
	GinkgoHelper()
	families, err := mgr.Metrics.Gather()
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, f := range families {
		if f.GetName() != "org_operator_organization_condition" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["organization"] == organization {
				Expect(m.GetGauge().GetValue()).To(Equal(1.0))
				out[labels["type"]] = labels["status"] + "/" + labels["reason"]
			}
		}
	}
	return out
}

var _ = Describe("20. Metrics", func() {
	It("exports each Organization's conditions: series appear, follow the state and vanish with the Organization", func() {
		name := uniqueName("metric")
		org := newOrg(name)
		org.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: name + "-pw"}
		createOrg(org)
		waitCondition(name, tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonPasswordSecretNotFound)
		Eventually(func() map[string]string { return conditionSeries(name) }, timeout, interval).Should(And(
			HaveKeyWithValue(tenancyv1alpha1.ConditionStalled, "True/"+tenancyv1alpha1.ReasonPasswordSecretNotFound),
			HaveKeyWithValue(tenancyv1alpha1.ConditionReady, "False/"+tenancyv1alpha1.ReasonPasswordSecretNotFound)))

		// The platform fixes it: the Stalled series goes, Ready turns True.
		pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name + "-pw",
			Labels: map[string]string{tenancyv1alpha1.LabelOrganization: name}},
			StringData: map[string]string{tenancyv1alpha1.SecretKeyPassword: "a referenced password 1"}}
		Expect(k8s.Create(ctx, pw)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(ctx, pw) })
		waitReady(name)
		Eventually(func() map[string]string { return conditionSeries(name) }, timeout, interval).Should(And(
			HaveKeyWithValue(tenancyv1alpha1.ConditionReady, "True/"+tenancyv1alpha1.ReasonSucceeded),
			Not(HaveKey(tenancyv1alpha1.ConditionStalled))))

		deleteOrgAndWait(name)
		Eventually(func() map[string]string { return conditionSeries(name) }, timeout, interval).Should(BeEmpty())
	})

	It("counts organizations by tenancy and readiness, and dedicated collections against the budget, as the cluster shows them", func() {
		shared := uniqueName("metric-shared")
		org := newOrg(shared)
		org.Spec.Tenancy = tenancyv1alpha1.TenancyShared
		createOrg(org)
		own := uniqueName("metric-dedicated")
		createOrg(newOrg(own))
		waitReady(shared)
		waitReady(own)
		// Other specs' organizations may still be changing: compare with
		// the cluster read at the same moment, until both agree.
		fromCluster := func() (map[string]float64, float64) {
			var list tenancyv1alpha1.OrganizationList
			Expect(k8s.List(ctx, &list)).To(Succeed())
			counts := map[string]float64{}
			for _, t := range []string{"Dedicated", "Shared"} {
				counts["ready=true,tenancy="+t+","], counts["ready=false,tenancy="+t+","] = 0, 0
			}
			held := 0.0
			for _, o := range list.Items {
				tenancy := string(o.Spec.Tenancy)
				if tenancy == "" {
					tenancy = "Dedicated"
				}
				c := meta.FindStatusCondition(o.Status.Conditions, tenancyv1alpha1.ConditionReady)
				isReady := c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation
				counts[fmt.Sprintf("ready=%t,tenancy=%s,", isReady, tenancy)]++
				if o.Status.DocumentFilter == "" && strings.HasPrefix(o.Status.Collection, tenancyv1alpha1.DedicatedCollectionPrefix) {
					held++
				}
			}
			return counts, held
		}
		Eventually(func(g Gomega) {
			want, held := fromCluster()
			held += float64(retainedCollections()) // the budget counts retained collections too
			g.Expect(want["ready=true,tenancy=Shared,"]).To(BeNumerically(">=", 1))
			g.Expect(gauges("org_operator_organizations")).To(Equal(want))
			g.Expect(gauges("org_operator_dedicated_collections")).To(Equal(map[string]float64{"": held}))
		}, timeout, interval).Should(Succeed())
		Expect(gauges("org_operator_dedicated_collections_budget")).To(HaveKey(""))
		deleteOrgAndWait(own)
		deleteOrgAndWait(shared)
	})
})
