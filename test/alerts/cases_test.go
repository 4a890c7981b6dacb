package alerts

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// Every alert has a case where it must fire and one, just on the other side
// of its threshold, where it must not: its expression is evaluated as
// shipped (config/prometheus/alerts.yaml) over synthetic series, so a
// loosened or tightened expression fails one of them. The for: durations
// are Prometheus's business and are not evaluated here.

// alertCase is one evaluation of an alert's expression.
type alertCase struct {
	name string
	// load is promqltest's load command (series over 30 minutes, 1m apart).
	load  string
	fires bool
}

var alertCases = map[string][]alertCase{
	"OrgOperatorDown": {
		{"every replica's scrape fails", `up{job="org-operator-controller-manager-metrics-service",instance="a"} 0x30
up{job="org-operator-controller-manager-metrics-service",instance="b"} 0x30`, true},
		{"no target at all (the ServiceMonitor or the pods are gone)", `up{job="something-else"} 1x30`, true},
		{"one replica answers", `up{job="org-operator-controller-manager-metrics-service",instance="a"} 0x30
up{job="org-operator-controller-manager-metrics-service",instance="b"} 1x30`, false},
	},
	"OrgOperatorNoLeader": {
		{"both replicas backups", `leader_election_master_status{name="org-operator.tenancy.org-operator.io",instance="a"} 0x30
leader_election_master_status{name="org-operator.tenancy.org-operator.io",instance="b"} 0x30`, true},
		{"one leader", `leader_election_master_status{name="org-operator.tenancy.org-operator.io",instance="a"} 0x30
leader_election_master_status{name="org-operator.tenancy.org-operator.io",instance="b"} 1x30`, false},
		{"another operator's lease without a leader", `leader_election_master_status{name="other"} 0x30
leader_election_master_status{name="org-operator.tenancy.org-operator.io"} 1x30`, false},
	},
	"OrgOperatorWorkqueueBacklog": {
		{"never empty and growing", `workqueue_depth{controller="organization",name="organization",priority="0"} 5+2x30`, true},
		{"never empty, steady", `workqueue_depth{controller="organization",name="organization",priority="0"} 5x30`, false},
		{"growing but emptied once", `workqueue_depth{controller="organization",name="organization",priority="0"} 5+2x20 0 50+2x9`, false},
		{"another controller's queue", `workqueue_depth{controller="other",name="other",priority="0"} 5+2x30`, false},
	},
	"OrganizationStalled": {
		{"a stalled organization", `org_operator_organization_condition{organization="acme",type="Stalled",status="True",reason="RenameConflict"} 1x30`, true},
		{"a Ready organization", `org_operator_organization_condition{organization="acme",type="Ready",status="True",reason="Succeeded"} 1x30`, false},
	},
	"OrganizationAccessStalled": {
		{"a stalled access",
			`org_operator_access_condition{namespace="shop",name="web",organization="acme",type="Stalled",status="True",reason="AccessNotAllowed"} 1x30`, true},
		{"a Ready access",
			`org_operator_access_condition{namespace="shop",name="web",organization="acme",type="Ready",status="True",reason="Succeeded"} 1x30`, false},
		{"an access waiting for its organization",
			`org_operator_access_condition{namespace="shop",name="web",organization="acme",type="Reconciling",status="True",reason="OrganizationNotReady"} 1x30`, false},
	},
	"OrganizationStoreUnavailable": {
		{"MongoDB unreachable for an organization",
			`org_operator_organization_condition{organization="acme",type="Ready",status="False",reason="MongoUnavailable"} 1x30`, true},
		{"not Ready for another reason",
			`org_operator_organization_condition{organization="acme",type="Ready",status="False",reason="Migrating"} 1x30`, false},
	},
	"MongoBackendUnreachable": {
		{"one backend unreachable", "org_operator_mongobackend_ready{backend=\"eu\"} 0x30\norg_operator_mongobackend_ready{backend=\"default\"} 1x30", true},
		{"every backend reachable", "org_operator_mongobackend_ready{backend=\"eu\"} 1x30\norg_operator_mongobackend_ready{backend=\"default\"} 1x30", false},
	},
	"OrganizationReconcileErrors": {
		{"0.2 errors per second", `controller_runtime_reconcile_errors_total{controller="organization"} 0+12x30`, true},
		{"0.05 errors per second", `controller_runtime_reconcile_errors_total{controller="organization"} 0+3x30`, false},
	},
	"OrganizationMongoDBCommandErrors": {
		{"0.2 failed inserts per second", `org_operator_mongodb_command_errors_total{command="insert"} 0+12x30`, true},
		{"0.05 failed inserts per second", `org_operator_mongodb_command_errors_total{command="insert"} 0+3x30`, false},
	},
	"DedicatedCollectionBudgetNearlyUsed": {
		{"95% of the budget", "org_operator_dedicated_collections 95x30\norg_operator_dedicated_collections_budget 100x30", true},
		{"85% of the budget", "org_operator_dedicated_collections 85x30\norg_operator_dedicated_collections_budget 100x30", false},
		{"no budget (0: unlimited)", "org_operator_dedicated_collections 95x30\norg_operator_dedicated_collections_budget 0x30", false},
	},
	"LoginLockoutSpike": {
		{"2 locked logins per second", `org_operator_api_logins_total{result="locked"} 0+120x30`, true},
		{"0.5 locked logins per second", `org_operator_api_logins_total{result="locked"} 0+30x30`, false},
		{"2 failed (not locked) logins per second", `org_operator_api_logins_total{result="failure"} 0+120x30`, false},
	},
}

// shippedAlerts parses the shipped rules as Prometheus does.
func shippedAlerts(t *testing.T) []rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.Parse(rules(t), false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("rulefmt: %v", errs)
	}
	var out []rulefmt.Rule
	for _, g := range groups.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func TestEveryAlertFiresAndHoldsAtItsThreshold(t *testing.T) {
	alerts := shippedAlerts(t)
	names := make([]string, 0, len(alerts))
	for _, r := range alerts {
		names = append(names, r.Alert)
	}
	withCases := slices.Collect(maps.Keys(alertCases))
	sort.Strings(names)
	sort.Strings(withCases)
	if !slices.Equal(names, withCases) {
		t.Fatalf("alerts %v, cases for %v: every alert needs a firing and a quiet case", names, withCases)
	}
	for _, r := range alerts {
		for _, c := range alertCases[r.Alert] {
			t.Run(r.Alert+"/"+c.name, func(t *testing.T) {
				storage := promqltest.LoadedStorage(t, "load 1m\n  "+indent(c.load))
				engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1_000_000)
				q, err := engine.NewInstantQuery(context.Background(), storage, nil, r.Expr, time.Unix(0, 0).Add(25*time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				res := q.Exec(context.Background())
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				vec, err := res.Vector()
				if err != nil {
					t.Fatal(err)
				}
				if fires := len(vec) > 0; fires != c.fires {
					t.Errorf("%s fires=%v over %q; want %v (result %v)", r.Alert, fires, c.load, c.fires, vec)
				}
			})
		}
	}
}

func indent(load string) string {
	out := []byte{}
	for i := 0; i < len(load); i++ {
		out = append(out, load[i])
		if load[i] == '\n' {
			out = append(out, ' ', ' ')
		}
	}
	return string(out)
}

// Every alert links its runbook: docs/runbooks/<alert>.md, which says what
// the alert means, how to confirm it and what to do.
func TestEveryAlertHasARunbook(t *testing.T) {
	const base = "https://github.com/org-operator/org-operator/blob/main/docs/runbooks/"
	for _, r := range shippedAlerts(t) {
		if got := r.Annotations["runbook_url"]; got != base+r.Alert+".md" {
			t.Errorf("%s: runbook_url %q, want %s%s.md", r.Alert, got, base, r.Alert)
			continue
		}
		text, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "docs", "runbooks", r.Alert+".md"))
		if err != nil {
			t.Errorf("%s: %v", r.Alert, err)
			continue
		}
		for _, section := range []string{"# " + r.Alert + "\n", "## Meaning\n", "## Confirm\n", "## Act\n"} {
			if !strings.Contains(string(text), section) {
				t.Errorf("docs/runbooks/%s.md has no %q", r.Alert, strings.TrimSpace(section))
			}
		}
	}
}
