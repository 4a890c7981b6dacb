package restapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the API, registered with the manager's registry.
type metrics struct {
	logins   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// Login outcomes.
const (
	loginSuccess   = "success"
	loginFailure   = "failure"
	loginLocked    = "locked"
	loginThrottled = "throttled"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "org_operator_api_logins_total",
			Help: "Login attempts by result: success, failure, locked (account locked out), throttled (rate or hashing limit).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "org_operator_api_request_duration_seconds",
			Help:    "REST API request durations by route, method and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "status"}),
	}
	for _, r := range []string{loginSuccess, loginFailure, loginLocked, loginThrottled} {
		m.logins.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.logins, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
