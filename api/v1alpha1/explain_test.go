//go:build integration

package v1alpha1_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// undocumented lists the schema paths below root whose description is empty.
func undocumented(path string, s apiextensionsv1.JSONSchemaProps) []string {
	var missing []string
	if strings.TrimSpace(s.Description) == "" {
		missing = append(missing, path)
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		missing = append(missing, undocumented(path+"."+n, s.Properties[n])...)
	}
	if s.Items != nil && s.Items.Schema != nil {
		for _, m := range undocumented(path+"[]", *s.Items.Schema) {
			if m != path+"[]" { // the list itself carries the description
				missing = append(missing, m)
			}
		}
	}
	return missing
}

var _ = Describe("Organization CRD documentation", func() {
	It("documents every spec and status field", func() {
		data, err := os.ReadFile(filepath.Join(controlplane.CRDPath(), "tenancy.org-operator.io_organizations.yaml"))
		Expect(err).NotTo(HaveOccurred())
		crd := &apiextensionsv1.CustomResourceDefinition{}
		Expect(yaml.Unmarshal(data, crd)).To(Succeed())
		Expect(crd.Spec.Versions).To(HaveLen(1))
		root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		Expect(root.Description).NotTo(BeEmpty())
		Expect(undocumented("spec", root.Properties["spec"])).To(BeEmpty())
		Expect(undocumented("status", root.Properties["status"])).To(BeEmpty())
	})

	It("is explained by kubectl explain against the real apiserver", func() {
		kubectl, err := exec.LookPath("kubectl")
		Expect(err).NotTo(HaveOccurred(), "kubectl must be installed (Debian package kubectl)")
		kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(kubeconfig, env.KubeConfig, 0o600)).To(Succeed())

		run := func(args ...string) (string, error) {
			out, err := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig, "explain"}, args...)...).CombinedOutput()
			return string(out), err
		}
		// The apiserver publishes a new CRD's OpenAPI a moment after installing it.
		Eventually(func() error { _, err := run("organizations"); return err }, 30*time.Second, 250*time.Millisecond).Should(Succeed())
		explain := func(args ...string) string {
			out, err := run(args...)
			Expect(err).NotTo(HaveOccurred(), out)
			return out
		}
		recursive := explain("organizations.spec", "--recursive")
		for _, field := range []string{"admin", "email", "passwordSecretRef", "name", "key", "displayName", "tenancy", "deletionPolicy"} {
			Expect(recursive).To(ContainSubstring(field))
		}
		Expect(explain("organizations.spec.admin.email")).To(ContainSubstring("unique across all organizations"))
		Expect(explain("organizations.spec.tenancy")).To(ContainSubstring("Dedicated"))
		Expect(explain("organizations.status")).To(ContainSubstring("observedGeneration"))
		Expect(explain("org.spec.deletionPolicy")).To(ContainSubstring("Retain keeps the collection"))
	})
})
