//go:build integration

package restapi_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// Issue 20: the served document had 94 errors and 86 warnings under the
// OWASP API Security ruleset. Rules switched off are listed, where they
// apply and why, in hack/openapi/.spectral.yaml.
var _ = Describe("The served OpenAPI document", func() {
	It("passes spectral's OpenAPI and OWASP API Security rulesets with no error and no warning", func() {
		dir := filepath.Join(controlplane.RepoRoot(), "hack", "openapi")
		spectral := filepath.Join(dir, "node_modules", ".bin", "spectral")
		_, err := os.Stat(spectral)
		Expect(err).NotTo(HaveOccurred(), "spectral is not installed: run `make openapi-tools` (npm ci in hack/openapi)")
		r := call(http.MethodGet, "/openapi.json", "", nil)
		Expect(r.status).To(Equal(http.StatusOK))
		// The ruleset's overrides name this file (build/openapi.json).
		Expect(os.MkdirAll(filepath.Join(dir, "build"), 0o755)).To(Succeed())
		document := filepath.Join(dir, "build", "openapi.json")
		Expect(os.WriteFile(document, r.body, 0o644)).To(Succeed())
		cmd := exec.Command(spectral, "lint", "--ruleset", filepath.Join(dir, ".spectral.yaml"), "--fail-severity=warn", document)
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "spectral lint of the served document:\n%s", out)
	})
})
