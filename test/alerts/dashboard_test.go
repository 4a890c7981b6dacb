package alerts

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// dashboard is the part of the Grafana dashboard JSON the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// checkDashboard evaluates every query of config/grafana's dashboard with
// the PromQL engine over families (a real manager's metrics after a small
// workload: a stalled and a moving organization, a stalled access, logins,
// a failed command): each must parse, name only metrics the manager
// serves, and return series.
func checkDashboard(t *testing.T, families []*dto.MetricFamily) {
	data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "config", "grafana", "org-operator-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if len(d.Panels) < 10 {
		t.Fatalf("the dashboard has %d panels", len(d.Panels))
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				known[f.GetName()+suffix] = true
			}
		}
	}
	p := parser.NewParser(parser.Options{})
	loaded := promqltest.LoadedStorage(t, load(families))
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1_000_000)
	at := time.Unix(0, 0).Add(20 * time.Minute)
	for _, panel := range d.Panels {
		if len(panel.Targets) == 0 {
			t.Errorf("panel %q has no query", panel.Title)
		}
		for _, target := range panel.Targets {
			expr, err := p.ParseExpr(target.Expr)
			if err != nil {
				t.Errorf("panel %q: %v", panel.Title, err)
				continue
			}
			for _, matchers := range parser.ExtractSelectors(expr) {
				for _, m := range matchers {
					if m.Name == model.MetricNameLabel && !known[m.Value] {
						t.Errorf("panel %q uses %s, which the manager does not export", panel.Title, m.Value)
					}
				}
			}
			if n := series(t, engine, loaded, target.Expr, at); n == 0 {
				t.Errorf("panel %q: %s returns no series over the manager's metrics", panel.Title, target.Expr)
			}
		}
	}
}

// series evaluates expr at at and counts the series of the answer.
func series(t *testing.T, engine *promql.Engine, queryable storage.Queryable, expr string, at time.Time) int {
	t.Helper()
	q, err := engine.NewInstantQuery(context.Background(), queryable, nil, expr, at)
	if err != nil {
		t.Errorf("%s: %v", expr, err)
		return 0
	}
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Errorf("%s: evaluation: %v", expr, res.Err)
		return 0
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return len(v)
	case promql.Scalar:
		return 1
	}
	return 0
}

// The kustomize component puts exactly the dashboard into a ConfigMap
// labelled for Grafana's sidecar, in the namespace of the kustomization
// that uses it.
func TestGrafanaComponent(t *testing.T) {
	dir := t.TempDir()
	component, err := filepath.Rel(dir, filepath.Join(controlplane.RepoRoot(), "config", "grafana"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("namespace: monitoring\ncomponents:\n- "+component+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("kubectl", "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(out, &cm); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "config", "grafana", "org-operator-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Namespace != "monitoring" || cm.Labels["grafana_dashboard"] != "1" || cm.Data["org-operator-dashboard.json"] != string(want) {
		t.Fatalf("the component's ConfigMap: %s/%s labels %v, dashboard equal: %v", cm.Namespace, cm.Name, cm.Labels,
			cm.Data["org-operator-dashboard.json"] == string(want))
	}
}
