package helm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// The real helm CLI (bin/helm, built by make helm from helm.sh/helm/v3),
// as a platform team runs it.

func helmBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(controlplane.RepoRoot(), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("bin/helm is missing: run make helm (make test builds it)")
	}
	return bin
}

// helmRun runs helm with args, with its caches and config in a temporary
// folder, and returns its combined output.
func helmRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func chartDir() string { return filepath.Join(controlplane.RepoRoot(), "dist", "chart") }

// helm lint --strict passes with the defaults and with every toggle.
func TestHelmLintStrict(t *testing.T) {
	for name, sets := range map[string][]string{
		"defaults": nil,
		"every toggle on": {"prometheusRule.enabled=true", "metrics.serviceMonitor.enabled=true", "metrics.tls.secretName=metrics-tls",
			"grafana.dashboard.enabled=true", "argocd.healthCheck.enabled=true", "api.signup=open", "api.tls.secretName=api-tls",
			"mongodb.uri=mongodb://db:27017/", "image.digest=sha256:" + strings.Repeat("0", 64)},
		"every toggle off": {"networkPolicy.enabled=false", "crds.enabled=false", "crds.keep=false", "credentialsNamespace.create=false",
			"replicaCount=1"},
	} {
		args := make([]string, 0, 3+2*len(sets))
		args = append(args, "lint", "--strict", chartDir())
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		if out, err := helmRun(t, args...); err != nil {
			t.Errorf("%s: helm lint --strict: %v\n%s", name, err, out)
		}
	}
}

// helm template refuses a misspelled value (the schema), naming it.
func TestHelmTemplateRefusesATypo(t *testing.T) {
	out, err := helmRun(t, "template", "org-operator", chartDir(), "--set", "replicaCont=3")
	if err == nil || !strings.Contains(out, "replicaCont") {
		t.Fatalf("helm template accepted a misspelled value (%v):\n%.2000s", err, out)
	}
}

// helm install into a real apiserver, helm upgrade to a chart whose CRD
// gained a field (the cluster's CRD then has it: the CRDs are templates),
// and helm uninstall, which keeps the CRDs and every Organization.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal(controlplane.ErrNoAssets)
	}
	env, cfg, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(c.Scheme()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "platform-operators"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}); err != nil {
		t.Fatal(err)
	}
	// envtest installs the CRDs itself; the release must own them, as on a fresh cluster.
	for _, name := range []string{"organizations.tenancy.org-operator.io", "organizationaccesses.tenancy.org-operator.io",
		"mongobackends.tenancy.org-operator.io"} {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
	waitCRDsGone(t, c)

	helm := func(args ...string) string {
		t.Helper()
		out, err := helmRun(t, append(args, "--kubeconfig", kubeconfig, "-n", ns)...)
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	helm("install", "org-operator", chartDir())
	deployment := &unstructured.Unstructured{}
	deployment.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "org-operator-controller-manager"}, deployment); err != nil {
		t.Fatalf("the release has no Deployment: %v", err)
	}
	org := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "tenancy.org-operator.io/v1alpha1", "kind": "Organization",
		"metadata": map[string]any{"name": "acme"}, "spec": map[string]any{"admin": map[string]any{"email": "admin@acme.example"}}}}
	if err := createWhenServed(ctx, c, org); err != nil {
		t.Fatalf("an Organization under the installed CRD: %v", err)
	}

	// The next release's chart: its Organization CRD has one more field.
	next := filepath.Join(t.TempDir(), "chart")
	if out, err := exec.Command("cp", "-r", chartDir(), next).CombinedOutput(); err != nil {
		t.Fatalf("copy the chart: %v %s", err, out)
	}
	crdFile := filepath.Join(next, "templates", "crds", "organizations.tenancy.org-operator.io.yaml")
	if _, err := os.Stat(crdFile); err != nil { // a chart that keeps its CRDs in crds/
		crdFile = filepath.Join(next, "crds", "organizations.tenancy.org-operator.io.yaml")
	}
	text, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "            description: spec is the desired state of the organization.\n            properties:\n"
	if !strings.Contains(string(text), anchor) {
		t.Fatal("the Organization CRD template changed shape; update the test's anchor")
	}
	added := strings.Replace(string(text), anchor, anchor+"              nextReleaseField:\n                type: string\n", 1)
	if err := os.WriteFile(crdFile, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	helm("upgrade", "org-operator", next)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := c.Get(ctx, client.ObjectKey{Name: "organizations.tenancy.org-operator.io"}, crd); err != nil {
		t.Fatal(err)
	}
	if _, ok := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["nextReleaseField"]; !ok {
		t.Fatal("helm upgrade did not update the CRD (CRDs in crds/ are never upgraded)")
	}

	out := helm("uninstall", "org-operator")
	if err := c.Get(ctx, client.ObjectKey{Name: "organizations.tenancy.org-operator.io"}, crd); err != nil {
		t.Fatalf("helm uninstall deleted the CRD (and every tenant with it): %v\n%s", err, out)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "acme"}, org); err != nil {
		t.Fatalf("the Organization is gone after helm uninstall: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(deployment), deployment); !apierrors.IsNotFound(err) {
		t.Fatalf("the Deployment outlived helm uninstall: %v", err)
	}
}

// waitCRDsGone waits until the apiserver no longer serves the operator's
// CRDs (a deleted CRD goes away once its objects are).
func waitCRDsGone(t *testing.T, c client.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list apiextensionsv1.CustomResourceDefinitionList
		if err := c.List(context.Background(), &list); err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, crd := range list.Items {
			if crd.Spec.Group == "tenancy.org-operator.io" {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d CRDs of the operator still served", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createWhenServed creates obj, retrying while its CRD is not served yet.
func createWhenServed(ctx context.Context, c client.Client, obj client.Object) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Create(ctx, obj)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
