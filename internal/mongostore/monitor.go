package mongostore

import (
	"context"
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/event"
)

// labelCommand is the metrics' label naming a MongoDB command, and
// labelBackend the one naming the deployment it went to (DefaultBackend:
// the manager's --mongodb-uri; else a MongoBackend).
const (
	labelCommand = "command"
	labelBackend = "backend"
)

// DefaultBackend is the backend label of the manager's own deployment
// (tenancyv1alpha1.DefaultBackend; this package knows no Kubernetes type).
const DefaultBackend = "default"

// WriteCommands are the command names that change data or schema.
var WriteCommands = []string{
	"insert", "update", "delete", "findAndModify",
	"create", "drop", "createIndexes", "dropIndexes", "renameCollection", "dropDatabase",
}

// CommandCounter counts the commands clients send, by command name (and,
// in the metrics, by backend: one Monitor per deployment). It backs the
// org_operator_mongodb_commands_total metric and lets tests and benchmarks
// count reads and writes exactly (Count and Snapshot add up every backend).
type CommandCounter struct {
	mu       sync.Mutex
	counts   map[string]int64
	vec      *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

// NewCommandCounter returns a counter; register Collectors() to export it.
func NewCommandCounter() *CommandCounter {
	return &CommandCounter{
		counts: map[string]int64{},
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "org_operator_mongodb_commands_total",
			Help: "MongoDB commands sent by the operator, by command name and backend (deployment).",
		}, []string{labelCommand, labelBackend}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "org_operator_mongodb_command_duration_seconds",
			Help:    "Time from sending a MongoDB command to its answer, by command name and backend.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{labelCommand, labelBackend}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "org_operator_mongodb_command_errors_total",
			Help: "MongoDB commands that failed (an error answer or no answer), by command name and backend.",
		}, []string{labelCommand, labelBackend}),
	}
}

// Monitor is the driver hook to pass in Options.Monitor of the manager's
// own deployment (backend DefaultBackend).
func (c *CommandCounter) Monitor() *event.CommandMonitor { return c.MonitorFor(DefaultBackend) }

// MonitorFor is the driver hook of a client of the named backend.
func (c *CommandCounter) MonitorFor(backend string) *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		c.mu.Lock()
		c.counts[e.CommandName]++
		c.mu.Unlock()
		c.vec.WithLabelValues(e.CommandName, backend).Inc()
	}, Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
		c.duration.WithLabelValues(e.CommandName, backend).Observe(e.Duration.Seconds())
	}, Failed: func(_ context.Context, e *event.CommandFailedEvent) {
		c.duration.WithLabelValues(e.CommandName, backend).Observe(e.Duration.Seconds())
		c.errors.WithLabelValues(e.CommandName, backend).Inc()
	}}
}

// Collectors export the counts, durations and errors to Prometheus.
func (c *CommandCounter) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.vec, c.duration, c.errors}
}

// Count returns the number of commands sent with any of the names; with no
// names, of all commands.
func (c *CommandCounter) Count(names ...string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(names) == 0 {
		var n int64
		for _, v := range c.counts {
			n += v
		}
		return n
	}
	var n int64
	for _, name := range names {
		n += c.counts[name]
	}
	return n
}

// Snapshot returns the counts by command name.
func (c *CommandCounter) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Since returns, by command name, how many commands were sent after the
// counts of before (a Snapshot taken earlier); names with none are left out.
func (c *CommandCounter) Since(before map[string]int64) map[string]int64 {
	sent := map[string]int64{}
	for name, n := range c.Snapshot() {
		if d := n - before[name]; d > 0 {
			sent[name] = d
		}
	}
	return sent
}

// Writes is the number of write commands sent.
func (c *CommandCounter) Writes() int64 { return c.Count(WriteCommands...) }
