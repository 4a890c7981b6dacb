package access

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// listTimeout bounds a scrape's read of the informer cache.
const listTimeout = 5 * time.Second

// metrics are the access controller's own: rotations per access (series
// removed when the access goes).
type metrics struct {
	rotations *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, cache client.Reader) (*metrics, error) {
	m := &metrics{rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "org_operator_access_rotations_total",
		Help: "Credentials published for an OrganizationAccess (its first user, and every rotation since the manager started).",
	}, []string{"namespace", "name"})}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rotations, newAccessCollector(cache)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) rotated(a *tenancyv1alpha1.OrganizationAccess) {
	if m != nil {
		m.rotations.WithLabelValues(a.Namespace, a.Name).Inc()
	}
}

// forget removes the series of an access that is gone.
func (m *metrics) forget(a *tenancyv1alpha1.OrganizationAccess) {
	if m != nil {
		m.rotations.DeleteLabelValues(a.Namespace, a.Name)
	}
}

// accessCollector exports, at each scrape, the conditions the informer
// cache holds for every OrganizationAccess (no state of its own).
type accessCollector struct {
	cache     client.Reader
	condition *prometheus.Desc
}

func newAccessCollector(cache client.Reader) *accessCollector {
	return &accessCollector{cache: cache, condition: prometheus.NewDesc("org_operator_access_condition",
		"1 for each condition an OrganizationAccess has, with its status and reason.",
		[]string{"namespace", "name", "organization", "type", "status", "reason"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *accessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.condition }

// Collect implements prometheus.Collector.
func (c *accessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	var list tenancyv1alpha1.OrganizationAccessList
	if err := c.cache.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.condition, err)
		return
	}
	for i := range list.Items {
		a := &list.Items[i]
		for _, cond := range a.Status.Conditions {
			ch <- prometheus.MustNewConstMetric(c.condition, prometheus.GaugeValue, 1,
				a.Namespace, a.Name, a.Spec.Organization, cond.Type, string(cond.Status), cond.Reason)
		}
	}
}
