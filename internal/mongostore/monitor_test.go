//go:build integration

package mongostore_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// sample is the value of the series name{command, backend="default"} (the
// sample count for a histogram), 0 when absent.
func sample(t *testing.T, reg *prometheus.Registry, name, command string) float64 {
	t.Helper()
	return sampleOn(t, reg, name, command, mongostore.DefaultBackend)
}

// sampleOn is the value of the series name{command, backend}.
func sampleOn(t *testing.T, reg *prometheus.Registry, name, command, backend string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if len(labels) != 2 || labels["command"] != command || labels["backend"] != backend {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Commands are counted when sent, timed when answered, and counted as
// errors when the server refuses them: a second create of one collection is
// refused (the store treats it as "already there").
func TestCommandMetrics(t *testing.T) {
	counter := mongostore.NewCommandCounter()
	reg := prometheus.NewRegistry()
	reg.MustRegister(counter.Collectors()...)
	s := newStore(t, mongostore.Options{Monitor: counter.Monitor()})
	ctx := context.Background()
	for range 2 {
		if _, err := s.CreateLocation(ctx, mongostore.Location{Collection: "org_metrics"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := sample(t, reg, "org_operator_mongodb_commands_total", "create"); got != 2 {
		t.Errorf("commands_total{create} = %v, want 2", got)
	}
	if got := sample(t, reg, "org_operator_mongodb_command_duration_seconds", "create"); got != 2 {
		t.Errorf("command_duration_seconds{create} observations = %v, want 2", got)
	}
	if got := sample(t, reg, "org_operator_mongodb_command_errors_total", "create"); got != 1 {
		t.Errorf("command_errors_total{create} = %v, want 1 (the second create)", got)
	}
	if got := sample(t, reg, "org_operator_mongodb_command_errors_total", "ping"); got != 0 {
		t.Errorf("command_errors_total{ping} = %v, want 0", got)
	}
}

// Each deployment's client counts under its own backend label; Count adds
// them up.
func TestCommandMetricsPerBackend(t *testing.T) {
	counter := mongostore.NewCommandCounter()
	reg := prometheus.NewRegistry()
	reg.MustRegister(counter.Collectors()...)
	own := newStore(t, mongostore.Options{Monitor: counter.Monitor()})
	other := newStore(t, mongostore.Options{Monitor: counter.MonitorFor("eu")})
	ctx := context.Background()
	if err := own.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := other.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := sampleOn(t, reg, "org_operator_mongodb_commands_total", "ping", mongostore.DefaultBackend); got != 1 {
		t.Errorf("commands_total{ping, backend=default} = %v, want 1", got)
	}
	if got := sampleOn(t, reg, "org_operator_mongodb_commands_total", "ping", "eu"); got != 2 {
		t.Errorf("commands_total{ping, backend=eu} = %v, want 2", got)
	}
	if got := counter.Count("ping"); got != 3 {
		t.Errorf("Count(ping) = %d, want 3", got)
	}
}
