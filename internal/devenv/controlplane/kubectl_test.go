//go:build integration

package controlplane_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// The kubectl the tests and make dev find first on PATH is within
// kubectl's supported skew of the apiserver they start (one minor
// version): make puts the one built from the apiserver's module first.
func TestKubectlOnPathMatchesTheAPIServer(t *testing.T) {
	env, _, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--kubeconfig", path, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	var v struct {
		Client struct{ Major, Minor string } `json:"clientVersion"`
		Server struct{ Major, Minor string } `json:"serverVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	client, _ := strconv.Atoi(v.Client.Minor)
	server, _ := strconv.Atoi(v.Server.Minor)
	if v.Client.Major != v.Server.Major || client < server-1 || client > server+1 {
		t.Fatalf("%s is v%s.%s, the apiserver v%s.%s: outside kubectl's one-minor skew "+
			"(run through make, which puts $(make -s envtest-assets-path) first on PATH)", bin, v.Client.Major, v.Client.Minor,
			v.Server.Major, v.Server.Minor)
	}
	t.Logf("%s v%s.%s against kube-apiserver v%s.%s", bin, v.Client.Major, v.Client.Minor, v.Server.Major, v.Server.Minor)
}
