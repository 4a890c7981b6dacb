//go:build integration

package controller_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/faultstore"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
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

// clusterID is the kube-system namespace's UID, this cluster in the ledger.
func clusterID() string {
	GinkgoHelper()
	ns := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns)).To(Succeed())
	return string(ns.UID)
}

// auditCounts computes, from MongoDB and the cluster read independently,
// what the audit gauges must say: this cluster's retained tenants, org_*
// collections neither a ledger entry nor an Organization claims, and admin
// records without an Organization.
func auditCounts() (retained, orphanCollections, orphanAdmins float64) {
	GinkgoHelper()
	var entries []check.LedgerEntry
	Expect(reader.Decode(ctx, "tenants", nil, &entries)).To(Succeed())
	claimed := map[string]bool{}
	for _, e := range entries {
		claimed[e.Collection] = true
		if e.Cluster == clusterID() && e.State == "retained" {
			retained++
		}
	}
	var orgs tenancyv1alpha1.OrganizationList
	Expect(k8s.List(ctx, &orgs)).To(Succeed())
	live := map[string]bool{}
	for _, o := range orgs.Items {
		live[o.Name] = true
		claimed[o.Status.Collection] = true
		if m := o.Status.Migration; m != nil {
			claimed[m.Source.Collection], claimed[m.Target.Collection] = true, true
		}
	}
	collections, err := reader.Collections(ctx)
	Expect(err).NotTo(HaveOccurred())
	for _, c := range collections {
		if strings.HasPrefix(c, "org_") && !claimed[c] {
			orphanCollections++
		}
	}
	var admins []check.Admin
	Expect(reader.Decode(ctx, "admins", nil, &admins)).To(Succeed())
	for _, a := range admins {
		if !live[a.Organization] {
			orphanAdmins++
		}
	}
	return retained, orphanCollections, orphanAdmins
}

var _ = Describe("20b. Audit and move gauges against MongoDB and the cluster", func() {
	// Issue 25: these gauges were never compared with what they count.
	It("count retained tenants, orphan collections and orphan admin records as MongoDB and the cluster show them", func() {
		kept := uniqueName("gauge-kept")
		o := newOrg(kept)
		o.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyRetain
		createOrg(o)
		waitReady(kept)
		seed("org_"+kept, 2)
		deleteOrgAndWait(kept)
		seed("org_"+uniqueName("gauge-stray"), 1) // a collection nobody claims
		ghost := uniqueName("gauge-ghost")
		Expect(writer.Upsert(ctx, "admins", ghost, bson.D{{Key: "_id", Value: ghost}, {Key: "organization", Value: ghost},
			{Key: "email", Value: ghost + "@ghost.example"}, {Key: "passwordHash", Value: "x"}})).To(Succeed())
		DeferCleanup(func() { _, _ = writer.DeleteMany(ctx, "admins", bson.D{{Key: "_id", Value: ghost}}) })

		Eventually(func(g Gomega) {
			retained, collections, admins := auditCounts()
			g.Expect(retained).To(BeNumerically(">=", 1))
			g.Expect(collections).To(BeNumerically(">=", 1))
			g.Expect(admins).To(BeNumerically(">=", 1))
			g.Expect(gauges("org_operator_retained_tenants")).To(Equal(map[string]float64{"": retained}))
			g.Expect(gauges("org_operator_orphan_collections")).To(Equal(map[string]float64{"": collections}))
			g.Expect(gauges("org_operator_orphan_admin_records")).To(Equal(map[string]float64{"": admins}))
		}, 3*resyncPeriod+timeout, interval).Should(Succeed())
	})

	It("show a move's progress as its status records it, while it runs", func() {
		name := uniqueName("gauge-move")
		createOrg(newOrg(name))
		waitReady(name)
		seed("org_"+name, 250)
		fault, reached := faultstore.CrashAt(name, faultstore.AfterBatchCopied)
		swapManager(testenv.Options{ResyncPeriod: resyncPeriod, MigrationBatchSize: 50, WrapStore: faultstore.Wrap(fault)})
		DeferCleanup(restoreManager)
		setTenancy(name, tenancyv1alpha1.TenancyShared)
		Eventually(reached, 60*time.Second).Should(BeClosed()) // held after its first batch
		Eventually(func(g Gomega) {
			m := getOrg(name).Status.Migration
			g.Expect(m).NotTo(BeNil())
			g.Expect(m.Copied).To(BeNumerically(">", 0))
			labels := "organization=" + name + ","
			g.Expect(gauges("org_operator_migration_copied_documents")).To(HaveKeyWithValue(labels, float64(m.Copied)))
			g.Expect(gauges("org_operator_migration_total_documents")).To(HaveKeyWithValue(labels, float64(m.Total)))
			g.Expect(m.Total).To(Equal(int64(250)))
			onTarget, err := reader.Count(ctx, shared, byOrg(name))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(onTarget).To(BeNumerically(">=", m.Copied), "the status counts documents the target does not hold")
		}, timeout, interval).Should(Succeed())
	})
})
