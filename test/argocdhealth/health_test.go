package argocdhealth_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/testsupport/argocdhealth"
)

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []struct {
		HealthStatus argocdhealth.Status `json:"healthStatus"`
		InputPath    string              `json:"inputPath"`
	} `json:"tests"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Every case of each kind's health_test.yaml, as Argo CD's own test of its
// resource_customizations runs them: same status, same message. Every
// object under testdata (dumped from the integration suites' live objects)
// has a case.
func TestHealthTestYAML(t *testing.T) {
	for _, kind := range argocdhealth.Kinds {
		t.Run(kind, func(t *testing.T) { testHealthTestYAML(t, kind) })
	}
}

func testHealthTestYAML(t *testing.T, kind string) {
	var cases healthTests
	readYAML(t, filepath.Join(argocdhealth.Dir(kind), "health_test.yaml"), &cases)
	if len(cases.Tests) == 0 {
		t.Fatal("health_test.yaml has no tests")
	}
	covered := make([]string, 0, len(cases.Tests))
	for _, tc := range cases.Tests {
		t.Run(tc.InputPath, func(t *testing.T) {
			var obj map[string]any
			readYAML(t, filepath.Join(argocdhealth.Dir(kind), tc.InputPath), &obj)
			if k, ok := obj["kind"]; ok && k != kind { // objects dumped as the apiserver answered a typed create have none
				t.Fatalf("%s is a %v, not a %s", tc.InputPath, obj["kind"], kind)
			}
			got, err := argocdhealth.Evaluate(kind, obj)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.HealthStatus {
				t.Fatalf("health = %+v\nwant %+v", got, tc.HealthStatus)
			}
		})
		covered = append(covered, filepath.Base(tc.InputPath))
	}
	files, err := filepath.Glob(filepath.Join(argocdhealth.Dir(kind), "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.Contains(covered, filepath.Base(f)) {
			t.Errorf("testdata/%s has no case in health_test.yaml", filepath.Base(f))
		}
	}
}

// Objects Argo CD can meet before the controller wrote anything, and
// malformed conditions, give a status rather than a script error (Argo CD
// shows a script error as Unknown health).
func TestHealthOfSparseObjects(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		want string
	}{
		{"no status", map[string]any{"metadata": map[string]any{"name": "a", "generation": 1.0}}, "Progressing"},
		{"no generation", map[string]any{"metadata": map[string]any{"name": "a"}, "status": map[string]any{}}, "Progressing"},
		{"stalled without reason or message", map[string]any{"metadata": map[string]any{"name": "a", "generation": 1.0},
			"status": map[string]any{"observedGeneration": 1.0, "conditions": []any{map[string]any{"type": "Stalled", "status": "True"}}}}, "Degraded"},
		{"ready for an older generation", map[string]any{"metadata": map[string]any{"name": "a", "generation": 2.0},
			"status": map[string]any{"observedGeneration": 2.0, "conditions": []any{
				map[string]any{"type": "Ready", "status": "True", "observedGeneration": 1.0}}}}, "Progressing"},
		{"paused", map[string]any{"metadata": map[string]any{"name": "a", "generation": 1.0,
			"annotations": map[string]any{"tenancy.org-operator.io/reconcile": "disabled"}}}, "Suspended"},
	}
	for _, kind := range argocdhealth.Kinds {
		for _, tt := range tests {
			if tt.name == "paused" && kind != "Organization" {
				continue // an OrganizationAccess has no pause annotation
			}
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				got, err := argocdhealth.Evaluate(kind, tt.obj)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != tt.want || got.Message == "" {
					t.Fatalf("health = %+v; want %s with a message", got, tt.want)
				}
			})
		}
	}
}

// The kustomize component puts exactly each kind's health.lua into
// argocd-cm under the key Argo CD reads, merged with what the Argo CD
// install already has.
func TestComponentAddsTheCheckToArgoCDConfigMap(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl must be installed (Debian package kubectl)")
	}
	dir := t.TempDir()
	component, err := filepath.Rel(dir, filepath.Join(controlplane.RepoRoot(), "config", "argocd"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"kustomization.yaml": "namespace: argocd\nresources:\n- argocd-cm.yaml\ncomponents:\n- " + component + "\n",
		"argocd-cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\ndata:\n  url: https://argocd.example\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(out, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != "argocd-cm" || cm.Namespace != "argocd" || cm.Data["url"] != "https://argocd.example" {
		t.Fatalf("argocd-cm not merged in place: %s", out)
	}
	for _, kind := range argocdhealth.Kinds {
		script, err := os.ReadFile(filepath.Join(argocdhealth.Dir(kind), "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		if got := cm.Data["resource.customizations.health.tenancy.org-operator.io_"+kind]; strings.TrimSpace(got) != strings.TrimSpace(string(script)) {
			t.Errorf("argocd-cm holds another script for %s:\n%s", kind, got)
		}
	}
}
