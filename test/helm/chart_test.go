// Package helm checks the Helm chart in dist/chart: rendered with its
// default values it is the same set of objects as `kustomize build
// config/default` (so the two installs cannot drift apart), non-default
// values do what values.yaml says, and both renders pass a server-side dry
// run, Pod Security admission included, against a real apiserver.
//
// It is a module of its own so that Helm's dependencies stay out of the
// operator's go.mod; make test runs it.
package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

const managedBy = "app.kubernetes.io/managed-by"

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command("kubectl", "kustomize", filepath.Join(controlplane.RepoRoot(), dir)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	return decode(t, out)
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(filepath.Join(controlplane.RepoRoot(), "dist", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render is `helm template` of the chart into namespace with values, the
// CRDs of crds/ included (there are none: they are templates).
func render(t *testing.T, ch *chart.Chart, namespace string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: "org-operator", Namespace: namespace,
		Revision: 1, IsInstall: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var objs []*unstructured.Unstructured
	for _, crd := range ch.CRDObjects() {
		objs = append(objs, decode(t, crd.File.Data)...)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		objs = append(objs, decode(t, []byte(files[name]))...)
	}
	return objs
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// The chart with its defaults installs what kustomize installs, object for
// object (the Namespace aside: Helm installs into the release's), except
// for who manages them. `make helm-chart` regenerates the copies.
func TestDefaultRenderIsTheKustomizeBuild(t *testing.T) {
	want := map[string]*unstructured.Unstructured{}
	for _, o := range kustomize(t, "config/default") {
		if o.GetKind() != "Namespace" {
			want[key(o)] = o
		}
	}
	got := map[string]*unstructured.Unstructured{}
	for _, o := range render(t, loadChart(t), "org-operator-system", nil) {
		if o.GetKind() != "Namespace" && o.GetAnnotations()["helm.sh/hook"] == "" { // hooks are not installed objects
			got[key(o)] = o
		}
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: in config/default, not in the chart (run make helm-chart?)", k)
			continue
		}
		if g.GetLabels()[managedBy] != "" {
			if g.GetLabels()[managedBy] != "Helm" {
				t.Errorf("%s: managed-by %q", k, g.GetLabels()[managedBy])
			}
			labels := g.GetLabels()
			labels[managedBy] = w.GetLabels()[managedBy]
			g.SetLabels(labels)
		}
		if g.GetKind() == "CustomResourceDefinition" { // a template, kept by helm uninstall
			annotations := g.GetAnnotations()
			if annotations["helm.sh/resource-policy"] != "keep" {
				t.Errorf("%s: no helm.sh/resource-policy: keep", k)
			}
			delete(annotations, "helm.sh/resource-policy")
			g.SetAnnotations(annotations)
		}
		if !equality.Semantic.DeepEqual(w.Object, g.Object) {
			t.Errorf("%s differs between config/default and the chart (run make helm-chart, or change its hand-written templates):"+
				"\nkustomize: %v\nhelm:      %v", k, w.Object, g.Object)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: rendered by default by the chart, not in config/default", k)
		}
	}
}

var custom = map[string]any{
	"replicaCount": 3,
	"image":        map[string]any{"repository": "registry.example/org-operator", "tag": "v1.2.3", "pullPolicy": "IfNotPresent"},
	"mongodb": map[string]any{"uri": "mongodb://db.example:27017/?replicaSet=rs0",
		"existingSecret": "tenants-mongodb", "existingSecretKey": "connection"},
	"api":                  map[string]any{"signup": "open", "tls": map[string]any{"secretName": "api-tls"}},
	"extraArgs":            []any{"--cluster-id=prod-eu-1"},
	"metrics":              map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "tls": map[string]any{"secretName": "metrics-tls"}},
	"prometheusRule":       map[string]any{"enabled": true},
	"argocd":               map[string]any{"healthCheck": map[string]any{"enabled": true}},
	"grafana":              map[string]any{"dashboard": map[string]any{"enabled": true, "namespace": "monitoring"}},
	"extraEnv":             []any{map[string]any{"name": "GODEBUG", "value": "madvdontneed=1"}},
	"extraVolumes":         []any{map[string]any{"name": "ca", "configMap": map[string]any{"name": "company-ca"}}},
	"extraVolumeMounts":    []any{map[string]any{"name": "ca", "mountPath": "/etc/ssl/company", "readOnly": true}},
	"leaderElection":       map[string]any{"leaseDuration": "60s", "renewDeadline": "40s", "retryPeriod": "5s"},
	"podAnnotations":       map[string]any{"example.com/team": "platform"},
	"podLabels":            map[string]any{"team": "platform"},
	"nodeSelector":         map[string]any{"kubernetes.io/os": "linux"},
	"tolerations":          []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "operators", "effect": "NoSchedule"}},
	"priorityClassName":    "system-cluster-critical",
	"serviceAccount":       map[string]any{"annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/org-operator"}},
	"credentialsNamespace": map[string]any{"name": "tenant-secrets", "create": true},
	"networkPolicy": map[string]any{"apiFrom": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}},
		"mongodb": map[string]any{"ports": []any{27018}, "to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "192.0.2.10/32"}}}}},
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

// customRelease is the chart rendered with the custom values into the
// namespace "tenants-platform", and its Deployment's manager container.
func customRelease(t *testing.T) ([]*unstructured.Unstructured, *appsv1.Deployment, corev1.Container) {
	t.Helper()
	objs := render(t, loadChart(t), customNamespace, custom)
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "Deployment", "").Object, d); err != nil {
		t.Fatal(err)
	}
	return objs, d, d.Spec.Template.Spec.Containers[0]
}

const customNamespace = "tenants-platform"

func TestValuesDeployment(t *testing.T) {
	objs, d, c := customRelease(t)
	if *d.Spec.Replicas != 3 || c.Image != "registry.example/org-operator:v1.2.3" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("replicas %d, image %s, pull policy %s", *d.Spec.Replicas, c.Image, c.ImagePullPolicy)
	}
	for _, arg := range []string{"--signup=open", "--cluster-id=prod-eu-1", "--credentials-namespace=tenant-secrets",
		"--api-tls-cert-file=/etc/org-operator/api-tls/tls.crt", "--api-tls-key-file=/etc/org-operator/api-tls/tls.key",
		"--metrics-cert-path=/etc/org-operator/metrics-tls"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	// The TLS Secrets, then the custom values' extra volume (TestValuesPod).
	if len(d.Spec.Template.Spec.Volumes) != 3 || d.Spec.Template.Spec.Volumes[0].Secret.SecretName != "api-tls" ||
		d.Spec.Template.Spec.Volumes[1].Secret.SecretName != "metrics-tls" ||
		len(c.VolumeMounts) != 3 || c.VolumeMounts[0].MountPath != "/etc/org-operator/api-tls" ||
		c.VolumeMounts[1].MountPath != "/etc/org-operator/metrics-tls" {
		t.Errorf("TLS Secrets not mounted: %v %v", d.Spec.Template.Spec.Volumes, c.VolumeMounts)
	}
	ref := c.Env[0].ValueFrom.SecretKeyRef
	if c.Env[0].Name != "MONGODB_URI" || ref.Name != "tenants-mongodb" || ref.Key != "connection" {
		t.Errorf("MONGODB_URI from %v", c.Env[0])
	}
	secret := find(t, objs, "Secret", "tenants-mongodb")
	if uri, _, _ := unstructured.NestedString(secret.Object, "stringData", "connection"); uri != "mongodb://db.example:27017/?replicaSet=rs0" {
		t.Errorf("MongoDB Secret holds %q", uri)
	}
}

func TestValuesMonitoringAndArgoCD(t *testing.T) {
	objs, _, _ := customRelease(t)
	monitor := find(t, objs, "ServiceMonitor", "")
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	tlsConfig, _, _ := unstructured.NestedMap(endpoints[0].(map[string]any), "tlsConfig")
	if ca, _, _ := unstructured.NestedString(tlsConfig, "ca", "secret", "name"); ca != "metrics-tls" || tlsConfig["insecureSkipVerify"] != nil {
		t.Errorf("the ServiceMonitor does not verify the metrics certificate with metrics-tls: %v", tlsConfig)
	}
	rule := find(t, objs, "PrometheusRule", "")
	want := find(t, kustomize(t, "config/prometheus"), "PrometheusRule", "")
	if !equality.Semantic.DeepEqual(rule.Object["spec"], want.Object["spec"]) {
		t.Error("the chart's alerts differ from config/prometheus/alerts.yaml (run make helm-chart)")
	}
	dashboard := find(t, objs, "ConfigMap", "org-operator-grafana-dashboard")
	wantJSON, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "config", "grafana", "org-operator-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedString(dashboard.Object, "data", "org-operator-dashboard.json")
	if strings.TrimSpace(got) != strings.TrimSpace(string(wantJSON)) {
		t.Error("the chart's Grafana dashboard differs from config/grafana's (run make helm-chart)")
	}
	if dashboard.GetNamespace() != "monitoring" || dashboard.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap is %s with labels %v, not in monitoring for the sidecar", dashboard.GetNamespace(), dashboard.GetLabels())
	}
	health := find(t, objs, "ConfigMap", "org-operator-argocd-health")
	for _, kind := range []string{"Organization", "OrganizationAccess"} {
		lua, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "config", "argocd", "resource_customizations",
			"tenancy.org-operator.io", kind, "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		script, _, _ := unstructured.NestedString(health.Object, "data", "resource.customizations.health.tenancy.org-operator.io_"+kind)
		if strings.TrimSpace(script) != strings.TrimSpace(string(lua)) {
			t.Errorf("the chart's Argo CD health check of %s differs from config/argocd's health.lua (run make helm-chart)", kind)
		}
	}
}

func TestValuesNetworkPolicy(t *testing.T) {
	objs, _, _ := customRelease(t)
	policy := &networkingv1.NetworkPolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "NetworkPolicy", "").Object, policy); err != nil {
		t.Fatal(err)
	}
	api, mongodb := policy.Spec.Ingress[0], policy.Spec.Egress[2]
	if api.Ports[0].Port.IntValue() != 8082 || len(api.From) != 1 || api.From[0].IPBlock == nil || api.From[0].IPBlock.CIDR != "10.0.0.0/8" {
		t.Errorf("REST API ingress %+v; want 8082 from 10.0.0.0/8 only", api)
	}
	if len(mongodb.Ports) != 1 || mongodb.Ports[0].Port.IntValue() != 27018 || len(mongodb.To) != 1 || mongodb.To[0].IPBlock.CIDR != "192.0.2.10/32" {
		t.Errorf("MongoDB egress %+v; want 27018 to 192.0.2.10/32 only", mongodb)
	}
}

func TestValuesNamespaces(t *testing.T) {
	objs, _, _ := customRelease(t)
	find(t, objs, "Namespace", "tenant-secrets")
	if role := find(t, objs, "Role", "org-operator-credentials-role"); role.GetNamespace() != "tenant-secrets" {
		t.Errorf("the credentials Role is in %q, not the credentials namespace", role.GetNamespace())
	}
	binding := find(t, objs, "ValidatingAdmissionPolicyBinding", "org-operator-access-secrets")
	exprs, _, _ := unstructured.NestedSlice(binding.Object, "spec", "matchResources", "namespaceSelector", "matchExpressions")
	if got := fmt.Sprint(exprs); !strings.Contains(got, "[tenant-secrets]") {
		t.Errorf("the access admission policy does not leave the credentials namespace tenant-secrets out: %s", got)
	}
	for _, o := range objs {
		switch {
		case o.GetNamespace() == "org-operator-system" || o.GetNamespace() == "org-operator-credentials":
			t.Errorf("%s is in a default namespace, not the release's or the configured credentials namespace", key(o))
		case o.GetKind() == "RoleBinding" || o.GetKind() == "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			if ns0, _, _ := unstructured.NestedString(subjects[0].(map[string]any), "namespace"); ns0 != customNamespace {
				t.Errorf("%s binds a ServiceAccount in %q", key(o), ns0)
			}
		}
	}
}

// Both renders pass a server-side dry run (objects of the Prometheus
// Operator aside: their CRDs are not installed here), and the manager's pod
// passes Pod Security admission in a namespace enforcing restricted.
func TestRendersPassADryRun(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal(controlplane.ErrNoAssets)
	}
	env, cfg, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch := loadChart(t)
	for _, tc := range []struct {
		namespace string
		values    map[string]any
	}{{"org-operator-system", nil}, {"tenants-platform", custom}} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tc.namespace,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
		if err := c.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if tc.values != nil { // where the custom values put the Grafana dashboard
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}); err != nil {
				t.Fatal(err)
			}
		}
		objs := render(t, ch, tc.namespace, tc.values)
		for _, o := range objs { // the credentials namespace, for real: objects in it are dry-run below
			if o.GetKind() == "Namespace" {
				if err := c.Create(ctx, o.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
			}
		}
		for _, o := range objs {
			if o.GroupVersionKind().Group == "monitoring.coreos.com" || o.GetKind() == "Namespace" {
				continue
			}
			err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.DryRunAll, client.ForceOwnership, client.FieldOwner("helm-test"))
			if err != nil {
				t.Errorf("%s (%s): %v", key(o), tc.namespace, err)
			}
			if o.GetKind() != "Deployment" {
				continue
			}
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, d); err != nil {
				t.Fatal(err)
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "manager", Namespace: tc.namespace}, Spec: d.Spec.Template.Spec}
			if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
				t.Errorf("the manager's pod in %s: %v", tc.namespace, err)
			}
		}
	}
}

// A ServiceMonitor that skipped verifying the metrics certificate would
// accept any server (issue 20): without a certificate Secret the chart
// refuses to render one.
func TestServiceMonitorNeedsACertificate(t *testing.T) {
	ch := loadChart(t)
	vals, err := chartutil.ToRenderValues(ch, map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}},
		chartutil.ReleaseOptions{Name: "org-operator", Namespace: "ops", Revision: 1, IsInstall: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.Render(ch, vals)
	if err == nil || !strings.Contains(err.Error(), "metrics.tls.secretName") {
		t.Fatalf("render without metrics.tls.secretName: %v; want an error naming it", err)
	}
}

// The NetworkPolicy can be left out, for clusters whose policies are
// managed elsewhere.
func TestNetworkPolicyToggle(t *testing.T) {
	for _, o := range render(t, loadChart(t), "ops", map[string]any{"networkPolicy": map[string]any{"enabled": false}}) {
		if o.GetKind() == "NetworkPolicy" {
			t.Fatalf("networkPolicy.enabled=false rendered %s", key(o))
		}
	}
}

// renderErr is render's error, for values the chart must refuse.
func renderErr(ch *chart.Chart, values map[string]any) error {
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: "org-operator", Namespace: "ns",
		Revision: 1, IsInstall: true}, nil)
	if err != nil {
		return err
	}
	_, err = engine.Render(ch, vals)
	return err
}

// values.schema.json refuses a misspelled key at any level, and a value of
// the wrong shape, instead of ignoring it.
func TestValuesSchemaRefusesTypos(t *testing.T) {
	ch := loadChart(t)
	for name, values := range map[string]map[string]any{
		"top-level typo":      {"replicaCont": 3},
		"nested typo":         {"image": map[string]any{"tagg": "v1"}},
		"deep typo":           {"networkPolicy": map[string]any{"mongodb": map[string]any{"port": []any{27017}}}},
		"wrong type":          {"replicaCount": "two"},
		"bad digest":          {"image": map[string]any{"digest": "latest"}},
		"unknown sign-up":     {"api": map[string]any{"signup": "yes"}},
		"flag without --":     {"extraArgs": []any{"cluster-id=x"}},
		"zero replicas":       {"replicaCount": 0},
		"pull secret no name": {"imagePullSecrets": []any{map[string]any{}}},
	} {
		if err := renderErr(ch, values); err == nil || !strings.Contains(err.Error(), "values don't meet the specifications of the schema") {
			t.Errorf("%s: %v accepted (%v)", name, values, err)
		}
	}
	if err := renderErr(ch, custom); err != nil {
		t.Errorf("the custom values are refused: %v", err)
	}
}

// With one replica there is no PodDisruptionBudget (minAvailable: 1 would
// block every node drain); with more there is.
func TestPodDisruptionBudgetOnlyWithSeveralReplicas(t *testing.T) {
	ch := loadChart(t)
	for replicas, want := range map[int]bool{1: false, 2: true, 3: true} {
		found := false
		for _, o := range render(t, ch, "ns", map[string]any{"replicaCount": replicas}) {
			found = found || o.GetKind() == "PodDisruptionBudget"
		}
		if found != want {
			t.Errorf("replicaCount %d: PodDisruptionBudget rendered %v", replicas, found)
		}
	}
}

// The image defaults to the chart's appVersion, can be pinned by digest,
// and pull secrets reach the pod.
func TestImageValues(t *testing.T) {
	ch := loadChart(t)
	image := func(values map[string]any) (string, []corev1.LocalObjectReference) {
		d := &appsv1.Deployment{}
		o := find(t, render(t, ch, "ns", values), "Deployment", "")
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image, d.Spec.Template.Spec.ImagePullSecrets
	}
	if got, _ := image(nil); got != "ghcr.io/org-operator/org-operator:"+ch.Metadata.AppVersion {
		t.Errorf("default image %s, want the appVersion %s", got, ch.Metadata.AppVersion)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	got, secrets := image(map[string]any{"image": map[string]any{"digest": digest, "tag": "v9"},
		"imagePullSecrets": []any{map[string]any{"name": "regcred"}}})
	if got != "ghcr.io/org-operator/org-operator@"+digest {
		t.Errorf("image pinned by digest: %s", got)
	}
	if len(secrets) != 1 || secrets[0].Name != "regcred" {
		t.Errorf("imagePullSecrets %v", secrets)
	}
}

// The CRDs are templates, so helm upgrade updates them (Helm installs
// crds/ once and never again): crds.enabled renders them, crds.keep keeps
// them on uninstall. The chart has no crds/ folder.
func TestCRDsAreTemplates(t *testing.T) {
	ch := loadChart(t)
	if n := len(ch.CRDObjects()); n != 0 {
		t.Fatalf("%d CRDs in crds/: helm upgrade would never update them", n)
	}
	count := func(values map[string]any) (crds, kept int) {
		for _, o := range render(t, ch, "ns", values) {
			if o.GetKind() == "CustomResourceDefinition" {
				crds++
				if o.GetAnnotations()["helm.sh/resource-policy"] == "keep" {
					kept++
				}
			}
		}
		return crds, kept
	}
	bases, err := filepath.Glob(filepath.Join(chartDir(), "..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) < 3 {
		t.Fatalf("config/crd/bases: %d CRDs (%v)", len(bases), err)
	}
	want := len(bases) // every CRD of the operator, MongoBackend included
	if crds, kept := count(nil); crds != want || kept != want {
		t.Errorf("default: %d CRDs, %d kept; want %d and %d", crds, kept, want, want)
	}
	if crds, _ := count(map[string]any{"crds": map[string]any{"enabled": false}}); crds != 0 {
		t.Errorf("crds.enabled=false renders %d CRDs", crds)
	}
	if crds, kept := count(map[string]any{"crds": map[string]any{"keep": false}}); crds != want || kept != 0 {
		t.Errorf("crds.keep=false: %d CRDs, %d kept", crds, kept)
	}
}

// The pod's scheduling, metadata, environment, volumes and leader election
// values reach the Deployment.
func TestValuesPod(t *testing.T) {
	_, d, c := customRelease(t)
	pod := d.Spec.Template
	switch {
	case pod.Annotations["example.com/team"] != "platform" || pod.Labels["team"] != "platform":
		t.Errorf("pod metadata %v %v", pod.Annotations, pod.Labels)
	case d.Spec.Selector.MatchLabels["team"] != "":
		t.Error("podLabels reached the selector (immutable: an upgrade would fail)")
	case pod.Spec.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Spec.Tolerations) != 1 || pod.Spec.PriorityClassName != "system-cluster-critical":
		t.Errorf("scheduling %v %v %q", pod.Spec.NodeSelector, pod.Spec.Tolerations, pod.Spec.PriorityClassName)
	case len(pod.Spec.TopologySpreadConstraints) != 1:
		t.Errorf("the default spread constraint is gone: %v", pod.Spec.TopologySpreadConstraints)
	case !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "ca" }) ||
		!slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/etc/ssl/company" }):
		t.Errorf("extra volume or mount missing: %v %v", pod.Spec.Volumes, c.VolumeMounts)
	case !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GODEBUG" }):
		t.Errorf("extraEnv missing: %v", c.Env)
	}
	objs, _, _ := customRelease(t)
	if sa := find(t, objs, "ServiceAccount", "org-operator-controller-manager"); sa.GetAnnotations()["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("serviceAccount.annotations missing: %v", sa.GetAnnotations())
	}
	for _, want := range []string{"--leader-elect-lease-duration=60s", "--leader-elect-renew-deadline=40s", "--leader-elect-retry-period=5s"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
}

// helm test's pod asks the REST API Service for /healthz and /readyz; it
// runs under Pod Security restricted (the dry run above admits it), and a
// hook NetworkPolicy lets it through the manager's.
func TestHelmTestHook(t *testing.T) {
	objs := render(t, loadChart(t), "ns", nil)
	pod := find(t, objs, "Pod", "org-operator-helm-test")
	policy := find(t, objs, "NetworkPolicy", "org-operator-helm-test")
	for _, o := range []*unstructured.Unstructured{pod, policy} {
		if o.GetAnnotations()["helm.sh/hook"] != "test" {
			t.Errorf("%s is not a test hook: %v", key(o), o.GetAnnotations())
		}
	}
	script := fmt.Sprint(pod.Object["spec"])
	for _, want := range []string{"http://org-operator-api.ns.svc:8082", "/healthz", "/readyz"} {
		if !strings.Contains(script, want) {
			t.Errorf("the test pod does not ask %s: %s", want, script)
		}
	}
	if strings.Contains(fmt.Sprint(find(t, render(t, loadChart(t), "ns", map[string]any{"api": map[string]any{"tls": map[string]any{"secretName": "api-tls"}}}),
		"Pod", "org-operator-helm-test").Object["spec"]), "http://") {
		t.Error("with API TLS the test pod still speaks plain HTTP")
	}
}

// serviceAccount.create: false with a name: no ServiceAccount object, and
// everything that names the manager's ServiceAccount names that one.
func TestExistingServiceAccount(t *testing.T) {
	objs := render(t, loadChart(t), "ops", map[string]any{"serviceAccount": map[string]any{"create": false, "name": "platform-made"}})
	bindings := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount":
			t.Errorf("ServiceAccount %s rendered with serviceAccount.create false", o.GetName())
		case "RoleBinding", "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, s := range subjects {
				m := s.(map[string]any)
				if m["kind"] == "ServiceAccount" {
					bindings++
					if m["name"] != "platform-made" || m["namespace"] != "ops" {
						t.Errorf("%s %s grants ServiceAccount %s/%s", o.GetKind(), o.GetName(), m["namespace"], m["name"])
					}
				}
			}
		case "ValidatingAdmissionPolicy":
			data := fmt.Sprint(o.Object)
			if !strings.Contains(data, ":platform-made'") || strings.Contains(data, "org-operator-controller-manager") {
				t.Errorf("admission policy %s does not recognise the ServiceAccount platform-made: %s", o.GetName(), data)
			}
		}
	}
	if bindings < 5 {
		t.Errorf("%d bindings grant a ServiceAccount; want the manager's five", bindings)
	}
	dep := find(t, objs, "Deployment", "")
	if sa, _, _ := unstructured.NestedString(dep.Object, "spec", "template", "spec", "serviceAccountName"); sa != "platform-made" {
		t.Errorf("Deployment runs as %q", sa)
	}
	named := render(t, loadChart(t), "ops", map[string]any{"serviceAccount": map[string]any{"name": "ours"}})
	if sa := find(t, named, "ServiceAccount", ""); sa.GetName() != "ours" {
		t.Errorf("created ServiceAccount named %s, want ours", sa.GetName())
	}
	if err := renderErr(loadChart(t), map[string]any{"serviceAccount": map[string]any{"name": "Not_A_Name"}}); err == nil {
		t.Error("serviceAccount.name Not_A_Name was accepted")
	}
}

// fullnameOverride renames every object the chart gives a name, and every
// reference to one (bindings' roles, the policy binding's policy, the
// ServiceAccount, the API Service the helm test asks), and nothing else:
// the Secrets the manager itself names keep their names.
func TestFullnameOverride(t *testing.T) {
	values := map[string]any{"fullnameOverride": "tenants", "replicaCount": 2,
		"prometheusRule": map[string]any{"enabled": true}, "grafana": map[string]any{"dashboard": map[string]any{"enabled": true}},
		"argocd": map[string]any{"healthCheck": map[string]any{"enabled": true}}}
	objs := render(t, loadChart(t), "ops", values)
	names := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace" {
			continue
		}
		names[o.GetKind()+"/"+o.GetName()] = true
		if !strings.HasPrefix(o.GetName(), "tenants-") {
			t.Errorf("%s %s is not named by fullnameOverride", o.GetKind(), o.GetName())
		}
		for _, path := range [][]string{{"roleRef", "name"}, {"spec", "policyName"}, {"spec", "template", "spec", "serviceAccountName"}} {
			if ref, ok, _ := unstructured.NestedString(o.Object, path...); ok && !strings.HasPrefix(ref, "tenants-") {
				t.Errorf("%s %s refers to %s by its old name", o.GetKind(), o.GetName(), ref)
			}
		}
		if s := fmt.Sprint(o.Object); strings.Contains(s, "org-operator-controller-manager") || strings.Contains(s, "org-operator-api.") {
			t.Errorf("%s %s still names an org-operator- object: %s", o.GetKind(), o.GetName(), s)
		}
	}
	for _, want := range []string{"Deployment/tenants-controller-manager", "ServiceAccount/tenants-controller-manager",
		"Service/tenants-api", "ClusterRole/tenants-manager-role", "ValidatingAdmissionPolicy/tenants-access-secrets"} {
		if !names[want] {
			t.Errorf("%s not rendered; rendered: %v", want, names)
		}
	}
	if err := renderErr(loadChart(t), map[string]any{"fullnameOverride": "Tenants!"}); err == nil {
		t.Error("fullnameOverride Tenants! was accepted")
	}
}
