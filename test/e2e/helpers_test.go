//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
)

// kubectl runs kubectl against the environment and fails the spec on error.
func kubectl(args ...string) string {
	GinkgoHelper()
	out, err := env.Kubectl(ctx, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// apply writes manifest to a file and runs kubectl apply -f on it.
func apply(manifest string) (string, error) {
	f := filepath.Join(GinkgoT().TempDir(), "manifest.yaml")
	Expect(os.WriteFile(f, []byte(manifest), 0o600)).To(Succeed())
	return env.Kubectl(ctx, "apply", "-f", f)
}

func orgManifest(name, spec string) string {
	return fmt.Sprintf("apiVersion: tenancy.org-operator.io/v1alpha1\nkind: Organization\nmetadata:\n  name: %s\nspec:\n%s", name, spec)
}

// waitConverged waits until each Organization converged on its current
// spec (convergence.Check: Ready for this generation, no move in flight),
// reading the apiserver without a cache. (`kubectl wait
// --for=condition=Ready` would also accept a Ready of the previous
// generation, right after a change or a restart.)
func waitConverged(timeout time.Duration, names ...string) {
	GinkgoHelper()
	for _, n := range names {
		_, err := convergence.Wait(ctx, k8s, n, timeout)
		Expect(err).NotTo(HaveOccurred())
	}
}

// secretValue reads one key of a Secret in the credentials namespace with kubectl.
func secretValue(name, key string) string {
	GinkgoHelper()
	out := kubectl("get", "secret", "-n", "org-operator-credentials", name, "-o", "jsonpath={.data."+key+"}")
	var b []byte
	Expect(json.Unmarshal([]byte(`"`+strings.TrimSpace(out)+`"`), &b)).To(Succeed())
	return string(b)
}

type httpResult struct {
	status int
	body   map[string]any
}

func request(method, path, token string, body any) httpResult {
	GinkgoHelper()
	r, err := apiclient.Do(ctx, env.APIURL, method, path, token, body)
	Expect(err).NotTo(HaveOccurred())
	m, _ := r.JSON() // problem documents and results are objects; 204 has no body
	return httpResult{status: r.Status, body: m}
}

// login returns the access token, failing the spec unless it is 200.
func login(email, password string) string {
	GinkgoHelper()
	r := request(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": password})
	Expect(r.status).To(Equal(http.StatusOK), "%v", r.body)
	return r.body["access_token"].(string)
}

func loginStatus(email, password string) int {
	return request(http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": password}).status
}

// probeStatus is the status of GET path on the manager's probe port, or 0
// when the port does not answer within 3 s (the Deployment's probe timeout).
func probeStatus(path string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.ProbeURL+path, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
