package backend

import (
	"github.com/prometheus/client_golang/prometheus"
)

// readyDesc is org_operator_mongobackend_ready: 1 when the latest bulk
// observation of the deployment succeeded, 0 when it failed, per backend
// ("default" included); absent before the first observation.
var readyDesc = prometheus.NewDesc("org_operator_mongobackend_ready",
	"1 when the latest observation of the MongoDB deployment succeeded (reachable, ledger readable), 0 when it failed, by backend.",
	[]string{"backend"}, nil)

// Collector exports the registry's health as metrics, read at scrape time.
func (r *Registry) Collector() prometheus.Collector { return healthCollector{r} }

type healthCollector struct{ r *Registry }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.r.Names() {
		h, ok := c.r.Health(name)
		if !ok {
			continue
		}
		v := 1.0
		if h.Err != nil {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, name)
	}
}
