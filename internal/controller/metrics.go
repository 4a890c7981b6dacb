package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/org-operator/org-operator/internal/audit"
)

// metrics are the controller's own Prometheus metrics.
type metrics struct {
	retained          prometheus.Gauge
	orphanCollections prometheus.Gauge
	orphanAdmins      prometheus.Gauge
	promotions        prometheus.Counter
	indexRepairs      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		retained: prometheus.NewGauge(prometheus.GaugeOpts{Name: "org_operator_retained_tenants",
			Help: "Tenants of this cluster deleted with deletionPolicy Retain whose data is kept (manager audit lists them)."}),
		orphanCollections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "org_operator_orphan_collections",
			Help: "Collections that look like a tenant's (org_*) but that no ledger entry and no Organization claims."}),
		orphanAdmins: prometheus.NewGauge(prometheus.GaugeOpts{Name: "org_operator_orphan_admin_records",
			Help: "Admin records whose Organization does not exist."}),
		promotions: prometheus.NewCounter(prometheus.CounterOpts{Name: "org_operator_auto_promotions_total",
			Help: "spec.tenancy: Auto organizations promoted from the shared collection to a dedicated one."}),
		indexRepairs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "org_operator_index_repairs_total",
			Help: "Indexes the operator relies on that were found dropped and created again, by collection and index."},
			[]string{"collection", "index"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.retained, m.orphanCollections, m.orphanAdmins, m.promotions, m.indexRepairs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// recordAudit sets the gauges from an audit of the latest observation.
func (m *metrics) recordAudit(r *audit.Report) {
	m.retained.Set(float64(len(r.Retained)))
	m.orphanCollections.Set(float64(len(r.OrphanCollections)))
	m.orphanAdmins.Set(float64(len(r.OrphanAdmins)))
}
