package controller

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// labelOrganization is the metrics' label naming an Organization.
const labelOrganization = "organization"

// listTimeout bounds a scrape's read of the informer cache.
const listTimeout = 5 * time.Second

// organizationCollector exports, at each scrape, what the informer cache
// holds about Organizations (as kube-state-metrics does): no state of its
// own, so an Organization's series vanish with it, and a scrape costs no
// call to the apiserver or MongoDB. Every replica exports the same values
// (each has the cache); aggregate with max by (organization, ...).
// On a cache error the scrape reports the error for these metrics only.
type organizationCollector struct {
	cache  client.Reader
	budget *collectionBudget

	condition, organizations, dedicated, budgetMax, migrationCopied, migrationTotal *prometheus.Desc
}

func newOrganizationCollector(cache client.Reader, budget *collectionBudget) *organizationCollector {
	return &organizationCollector{
		cache:  cache,
		budget: budget,
		condition: prometheus.NewDesc("org_operator_organization_condition",
			"1 for each condition an Organization has, with its status and reason.",
			[]string{labelOrganization, "type", "status", "reason"}, nil),
		organizations: prometheus.NewDesc("org_operator_organizations",
			"Organizations by spec.tenancy and whether they are Ready for their current generation.",
			[]string{"tenancy", "ready"}, nil),
		dedicated: prometheus.NewDesc("org_operator_dedicated_collections",
			"Dedicated collections held or being created (counted against --max-dedicated-collections).", nil, nil),
		budgetMax: prometheus.NewDesc("org_operator_dedicated_collections_budget",
			"--max-dedicated-collections (0: unlimited).", nil, nil),
		migrationCopied: prometheus.NewDesc("org_operator_migration_copied_documents",
			"Documents found in the target of an Organization's move under way.", []string{labelOrganization}, nil),
		migrationTotal: prometheus.NewDesc("org_operator_migration_total_documents",
			"Documents in the source of an Organization's move under way.", []string{labelOrganization}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *organizationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.condition, c.organizations, c.dedicated, c.budgetMax, c.migrationCopied, c.migrationTotal} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *organizationCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.dedicated, prometheus.GaugeValue, float64(c.budget.used()))
	ch <- prometheus.MustNewConstMetric(c.budgetMax, prometheus.GaugeValue, float64(c.budget.max))
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	var orgs tenancyv1alpha1.OrganizationList
	if err := c.cache.List(ctx, &orgs); err != nil {
		ch <- prometheus.NewInvalidMetric(c.organizations, err)
		return
	}
	counts := map[[2]string]int{}
	for _, t := range []tenancyv1alpha1.Tenancy{tenancyv1alpha1.TenancyDedicated, tenancyv1alpha1.TenancyShared} {
		for _, r := range []string{"true", "false"} {
			counts[[2]string{string(t), r}] = 0
		}
	}
	for i := range orgs.Items {
		org := &orgs.Items[i]
		for _, cond := range org.Status.Conditions {
			ch <- prometheus.MustNewConstMetric(c.condition, prometheus.GaugeValue, 1,
				org.Name, cond.Type, string(cond.Status), cond.Reason)
		}
		counts[[2]string{string(tenancyOf(org)), strconv.FormatBool(readyForGeneration(org))}]++
		if m := org.Status.Migration; m != nil {
			ch <- prometheus.MustNewConstMetric(c.migrationCopied, prometheus.GaugeValue, float64(m.Copied), org.Name)
			ch <- prometheus.MustNewConstMetric(c.migrationTotal, prometheus.GaugeValue, float64(m.Total), org.Name)
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.organizations, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

func tenancyOf(org *tenancyv1alpha1.Organization) tenancyv1alpha1.Tenancy {
	if org.Spec.Tenancy == "" {
		return tenancyv1alpha1.TenancyDedicated
	}
	return org.Spec.Tenancy
}

// readyForGeneration reports whether Ready is True for the Organization's current generation.
func readyForGeneration(org *tenancyv1alpha1.Organization) bool {
	c := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == org.Generation
}
