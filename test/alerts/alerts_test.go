// Package alerts checks config/prometheus/alerts.yaml: the rules parse and
// validate as Prometheus loads them (rulefmt), every metric they use is one
// a real manager exports, every alert fires on one side of its threshold
// and not on the other (cases_test.go), and evaluated by the PromQL engine
// over the metrics of a real manager with a stalled and a Ready
// organization and a stalled access, the stalled-organization and
// stalled-access alerts name exactly the stalled ones.
//
// It is a module of its own so that Prometheus's dependencies stay out of
// the operator's go.mod; make test runs it.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"

	// The manager's own store drives a command MongoDB refuses (the command
	// error metric counts the manager's commands); nothing is asserted
	// through it.
	"github.com/org-operator/org-operator/internal/mongostore" //nolint:depguard // drives the system, asserts nothing
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/faultstore"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// rules reads the PrometheusRule the kustomize component ships and returns
// its spec (the rule groups, in Prometheus's rule file format).
func rules(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("kubectl", "kustomize", filepath.Join(controlplane.RepoRoot(), "config", "prometheus"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/prometheus: %v", err)
	}
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		var obj struct {
			Kind string         `json:"kind"`
			Spec map[string]any `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "PrometheusRule" {
			groups, err := yaml.Marshal(obj.Spec)
			if err != nil {
				t.Fatal(err)
			}
			return groups
		}
	}
	t.Fatal("config/prometheus has no PrometheusRule")
	return nil
}

// stalledAccess is the OrganizationAccess exported leaves Stalled.
const stalledAccess = "alert-web"

// exported is every metric family a real manager exports, after a stalled
// and a Ready organization, and a stalled access, went through it.
func exported(t *testing.T) (families []*dto.MetricFamily, stalled, ready string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run make test")
	}
	env, err := testenv.StartEnvironment(testenv.EnvironmentOptions{Authentication: true}) // users: an access rotates
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	apiCfg := restapi.DefaultConfig()
	// Leader election for leader_election_master_status; every move fails
	// after its first batch, so one stays in flight (the move gauges).
	stuck := faultstore.Wrap(func(_ context.Context, p faultstore.Point, _ ...mongostore.Location) error {
		if p == faultstore.AfterBatchCopied {
			return errors.New("injected: the move stops after its first batch")
		}
		return nil
	})
	mgr, err := env.StartInProcessManager(testenv.Options{API: &apiCfg, LeaderElection: true, WrapStore: stuck, MigrationBatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop() })
	ctx := context.Background()
	stalled, ready = "alert-stalled", "alert-ready"
	for _, name := range []string{stalled, ready} {
		org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"}}}
		if name == stalled {
			org.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: "missing"}
		} else {
			org.Spec.Access = &tenancyv1alpha1.AccessPolicy{Namespaces: []string{"kube-public"}}
		}
		if err := env.Client.Create(ctx, org); err != nil {
			t.Fatal(err)
		}
	}
	org := func(name string) *tenancyv1alpha1.Organization {
		o := &tenancyv1alpha1.Organization{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	poll(t, "the organizations settle", func() bool {
		s, r := org(stalled), org(ready)
		return s.Status.ObservedGeneration == s.Generation && r.Status.ObservedGeneration == r.Generation
	})
	// A move in flight: 5 documents, Dedicated -> Shared, stuck after 2.
	if err := env.Seed.Documents(ctx, "org_"+ready, "moving", "", 5); err != nil {
		t.Fatal(err)
	}
	moving := org(ready)
	base := moving.DeepCopy()
	moving.Spec.Tenancy = tenancyv1alpha1.TenancyShared
	if err := env.Client.Patch(ctx, moving, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	poll(t, "a move in flight", func() bool { m := org(ready).Status.Migration; return m != nil && m.Copied > 0 })
	// An access that gets its user (a rotation), and one in a namespace the
	// organization does not allow: Stalled.
	accessState := func(namespace, name string) *tenancyv1alpha1.OrganizationAccess {
		a := &tenancyv1alpha1.OrganizationAccess{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, a := range []*tenancyv1alpha1.OrganizationAccess{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-public", Name: "alert-app"}, Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: ready}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: stalledAccess}, Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: ready}},
	} {
		if err := env.Client.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "the allowed access gets its user", func() bool { return accessState("kube-public", "alert-app").Status.Username != "" })
	poll(t, "the other access stalls", func() bool {
		return meta.IsStatusConditionTrue(accessState("default", stalledAccess).Status.Conditions, tenancyv1alpha1.ConditionStalled)
	})
	// Things that make the alerts' other metrics emit a sample: a failed
	// login, and a command MongoDB refuses (creating an existing collection).
	r, err := apiclient.Do(ctx, mgr.APIURL, "POST", "/v1/auth/login", "",
		map[string]string{"email": "admin@" + ready + ".example", "password": "not the password"})
	if err != nil || r.Status != 401 {
		t.Fatalf("failed login: %v, status %d", err, r.Status)
	}
	for range 2 {
		if _, err := mgr.Store.CreateLocation(ctx, mongostore.Location{Collection: "org_alert-probe"}); err != nil {
			t.Fatal(err)
		}
	}
	// The operator's registry, and controller-runtime's own (reconcile
	// counts), as the metrics endpoint serves them together.
	for _, g := range []prometheus.Gatherer{mgr.Metrics, ctrlmetrics.Registry} {
		fs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		families = append(families, fs...)
	}
	return families, stalled, ready
}

// poll waits up to 30 s for done, failing the test with what it waited for.
func poll(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s in vain: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load turns families into promqltest's load command over 20 minutes:
// gauges keep their value, counters grow by theirs each minute.
func load(families []*dto.MetricFamily) string {
	var b strings.Builder
	b.WriteString("load 1m\n")
	for _, f := range families {
		for _, m := range f.GetMetric() {
			lbls := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				lbls = append(lbls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series := f.GetName() + "{" + strings.Join(lbls, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				fmt.Fprintf(&b, "  %s %gx20\n", series, m.GetGauge().GetValue())
			case dto.MetricType_COUNTER:
				fmt.Fprintf(&b, "  %s 0+%gx20\n", series, m.GetCounter().GetValue())
			case dto.MetricType_HISTOGRAM: // buckets, sum and count, each growing by the scraped value
				h := m.GetHistogram()
				with := func(le string) string {
					return f.GetName() + "_bucket{" + strings.Join(append(slices.Clone(lbls), fmt.Sprintf("le=%q", le)), ",") + "}"
				}
				for _, bk := range h.GetBucket() {
					fmt.Fprintf(&b, "  %s 0+%dx20\n", with(fmt.Sprintf("%g", bk.GetUpperBound())), bk.GetCumulativeCount())
				}
				fmt.Fprintf(&b, "  %s 0+%dx20\n", with("+Inf"), h.GetSampleCount())
				fmt.Fprintf(&b, "  %s_sum{%s} 0+%gx20\n", f.GetName(), strings.Join(lbls, ","), h.GetSampleSum())
				fmt.Fprintf(&b, "  %s_count{%s} 0+%dx20\n", f.GetName(), strings.Join(lbls, ","), h.GetSampleCount())
			}
		}
	}
	return b.String()
}

func TestAlertRules(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	alerts := shippedAlerts(t)
	want := []string{"DedicatedCollectionBudgetNearlyUsed", "LoginLockoutSpike", "MongoBackendUnreachable", "OrgOperatorDown", "OrgOperatorNoLeader",
		"OrgOperatorWorkqueueBacklog", "OrganizationAccessStalled", "OrganizationMongoDBCommandErrors",
		"OrganizationReconcileErrors", "OrganizationStalled", "OrganizationStoreUnavailable"}
	names := make([]string, 0, len(alerts))
	for _, r := range alerts {
		names = append(names, r.Alert)
	}
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Fatalf("alerts = %v, want %v", names, want)
	}

	families, stalled, ready := exported(t)
	t.Run("the Grafana dashboard", func(t *testing.T) { checkDashboard(t, families) })
	// up is Prometheus's own series for every scrape, not the manager's.
	known := map[string]bool{"up": true}
	for _, f := range families {
		known[f.GetName()] = true
	}

	storage := promqltest.LoadedStorage(t, load(families))
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1_000_000)
	at := time.Unix(0, 0).Add(20 * time.Minute)
	for _, r := range alerts {
		expr, err := p.ParseExpr(r.Expr)
		if err != nil {
			t.Fatalf("%s: %v", r.Alert, err)
		}
		for _, matchers := range parser.ExtractSelectors(expr) {
			for _, m := range matchers {
				if m.Name == model.MetricNameLabel && !known[m.Value] {
					t.Errorf("%s uses %s, which the manager does not export", r.Alert, m.Value)
				}
			}
		}
		q, err := engine.NewInstantQuery(context.Background(), storage, nil, r.Expr, at)
		if err != nil {
			t.Fatalf("%s: %v", r.Alert, err)
		}
		res := q.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: evaluation: %v", r.Alert, res.Err)
		}
		if r.Alert == "OrganizationAccessStalled" {
			vec, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			var firing []string
			for _, s := range vec {
				firing = append(firing, s.Metric.Get("namespace")+"/"+s.Metric.Get("name")+"/"+s.Metric.Get("reason"))
			}
			if want := []string{"default/" + stalledAccess + "/" + tenancyv1alpha1.ReasonAccessNotAllowed}; !slices.Equal(firing, want) {
				t.Errorf("OrganizationAccessStalled fires for %v; want %v", firing, want)
			}
		}
		if r.Alert != "OrganizationStalled" {
			continue
		}
		vec, err := res.Vector()
		if err != nil {
			t.Fatal(err)
		}
		var firing []string
		for _, s := range vec {
			firing = append(firing, s.Metric.Get("organization")+"/"+s.Metric.Get("reason"))
		}
		if !slices.Equal(firing, []string{stalled + "/" + tenancyv1alpha1.ReasonPasswordSecretNotFound}) {
			t.Errorf("OrganizationStalled fires for %v; want only %s (not %s)", firing, stalled, ready)
		}
	}
}
