//go:build integration

// Package deploy checks the shipped manifests (kustomize build
// config/default) against a real apiserver: every object passes a
// server-side dry run, and the manager's pod passes Pod Security admission
// at the restricted level its namespace enforces.
package deploy

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

func TestDeploy(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Shipped manifests")
}

// warnings collects the apiserver's warning headers (Pod Security admission
// warns about workloads it would refuse pods of).
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

var (
	ctx     = context.Background()
	env     *envtest.Environment
	c       client.Client
	warned  = &warnings{}
	objects []*unstructured.Unstructured
)

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	var cfg *rest.Config
	var err error
	env, cfg, err = controlplane.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warned
	c, err = client.New(cfg, client.Options{})
	Expect(err).NotTo(HaveOccurred())
	objects = render("config/default")
})

// render is kustomize build of dir, as objects.
func render(dir string) []*unstructured.Unstructured {
	GinkgoHelper()
	cmd := exec.Command("kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", dir)
	cmd.Dir = controlplane.RepoRoot()
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "kubectl kustomize %s", dir)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			Expect(err).To(Equal(io.EOF))
			return objs
		}
		objs = append(objs, u)
	}
}

func find(kind string) *unstructured.Unstructured {
	GinkgoHelper()
	return findIn(objects, kind)
}

func findIn(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	GinkgoHelper()
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	Fail("the build has no " + kind)
	return nil
}

func apply(u *unstructured.Unstructured, opts ...client.ApplyOption) error {
	opts = append(opts, client.ForceOwnership, client.FieldOwner("deploy-test"))
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...)
}

// applyNamespaces creates the Namespaces of objs for real, checks that each
// enforces Pod Security restricted, and returns their names.
func applyNamespaces(objs []*unstructured.Unstructured) []string {
	GinkgoHelper()
	var names []string
	for _, o := range objs {
		if o.GetKind() != "Namespace" {
			continue
		}
		Expect(o.GetLabels()).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"), o.GetName())
		Expect(apply(o)).To(Succeed())
		names = append(names, o.GetName())
	}
	return names
}

// podOf is a pod made from the Deployment's template, in its namespace.
func podOf(d *appsv1.Deployment) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "manager-template", Namespace: d.Namespace,
		Labels: d.Spec.Template.Labels}, Spec: *d.Spec.Template.Spec.DeepCopy()}
}

var _ = Describe("kustomize build config/default", Ordered, func() {
	var deployment *appsv1.Deployment

	BeforeAll(func() {
		// The operator's namespace and the tenants' credentials namespace,
		// created for real so that the objects in them can be dry-run.
		names := applyNamespaces(objects)
		Expect(names).To(ConsistOf("org-operator-system", "org-operator-credentials"))
		deployment = &appsv1.Deployment{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(find("Deployment").Object, deployment)).To(Succeed())
	})

	It("is accepted object by object by a server-side dry run", func() {
		kinds := map[string]bool{}
		for _, o := range objects {
			Expect(apply(o, client.DryRunAll)).To(Succeed(), "%s %s", o.GetKind(), o.GetName())
			kinds[o.GetKind()] = true
		}
		for _, k := range []string{"CustomResourceDefinition", "Deployment", "Service", "ServiceAccount", "ClusterRole",
			"PodDisruptionBudget", "NetworkPolicy"} {
			Expect(kinds).To(HaveKey(k))
		}
		Expect(warned.take()).To(BeEmpty(), "the apiserver warned about the manifests (Pod Security?)")
	})

	It("runs the manager as Pod Security's restricted level allows, and the check is live: a privileged pod is refused", func() {
		Expect(c.Create(ctx, podOf(deployment), client.DryRunAll)).To(Succeed())
		Expect(warned.take()).To(BeEmpty())

		privileged := podOf(deployment)
		privileged.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
		privileged.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		err := c.Create(ctx, privileged, client.DryRunAll)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`violates PodSecurity "restricted:latest"`))
	})

	It("lets only labelled namespaces reach the REST API (issue 20: the API took ingress from anywhere)", func() {
		policy := &networkingv1.NetworkPolicy{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(find("NetworkPolicy").Object, policy)).To(Succeed())
		for _, rule := range policy.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port.IntValue() == 8082 {
					Expect(rule.From).To(HaveLen(1), "the REST API is open to every pod")
					Expect(rule.From[0].NamespaceSelector.MatchLabels).To(HaveKeyWithValue("tenancy.org-operator.io/api-access", "true"))
				}
			}
		}
	})

	It("spreads two replicas over nodes, keeps one through drains, and derives GOMEMLIMIT from the memory limit", func() {
		Expect(*deployment.Spec.Replicas).To(BeNumerically(">=", 2))
		Expect(deployment.Spec.Template.Spec.TopologySpreadConstraints).To(ContainElement(HaveField("TopologyKey", "kubernetes.io/hostname")))
		pdb := find("PodDisruptionBudget")
		minAvailable, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "minAvailable")
		Expect(minAvailable).To(BeEquivalentTo(1))
		var memoryLimit *corev1.EnvVar
		for i, e := range deployment.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "MEMORY_LIMIT" {
				memoryLimit = &deployment.Spec.Template.Spec.Containers[0].Env[i]
			}
		}
		Expect(memoryLimit).NotTo(BeNil())
		Expect(memoryLimit.ValueFrom.ResourceFieldRef.Resource).To(Equal("limits.memory"))
		probe := deployment.Spec.Template.Spec.Containers[0].ReadinessProbe
		Expect(probe.HTTPGet.Path).To(Equal("/readyz"))
		Expect(strings.TrimSpace(probe.HTTPGet.Port.String())).To(Equal("8081"))
	})
})

var _ = Describe("config/default with the config/certmanager component", func() {
	It("mounts the Certificate's Secret and points the API's TLS flags at it, still under Pod Security restricted", func() {
		overlay := GinkgoT().TempDir()
		config, err := filepath.Rel(overlay, filepath.Join(controlplane.RepoRoot(), "config")) // kustomize takes no absolute roots
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte("resources:\n- "+filepath.Join(config, "default")+
			"\ncomponents:\n- "+filepath.Join(config, "certmanager")+"\n"), 0o600)).To(Succeed())
		objs := render(overlay)
		certificate := findIn(objs, "Certificate")
		secretName, _, _ := unstructured.NestedString(certificate.Object, "spec", "secretName")
		dnsNames, _, _ := unstructured.NestedStringSlice(certificate.Object, "spec", "dnsNames")
		Expect(dnsNames).To(ContainElement("org-operator-api.org-operator-system.svc"))
		Expect(findIn(objs, "Service")).NotTo(BeNil())

		d := &appsv1.Deployment{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(findIn(objs, "Deployment").Object, d)).To(Succeed())
		pod := d.Spec.Template.Spec
		Expect(pod.Volumes).To(ContainElement(HaveField("VolumeSource.Secret.SecretName", secretName)))
		Expect(pod.Containers[0].VolumeMounts).To(ContainElement(HaveField("Name", "api-tls")))
		mount := pod.Containers[0].VolumeMounts[0].MountPath
		Expect(pod.Containers[0].Args).To(ContainElements("--api-tls-cert-file="+mount+"/tls.crt", "--api-tls-key-file="+mount+"/tls.key"))
		applyNamespaces(objs)
		Expect(c.Create(ctx, podOf(d), client.DryRunAll)).To(Succeed())
		Expect(warned.take()).To(BeEmpty())
	})
})

var _ = Describe("config/prometheus with the config/certmanager component", func() {
	It("verifies the metrics certificate the manager serves, instead of skipping verification", func() {
		// Issue 20: the ServiceMonitor used insecureSkipVerify.
		monitor := findIn(render("config/prometheus"), "ServiceMonitor")
		endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		Expect(endpoints).To(HaveLen(1))
		tlsConfig, _, _ := unstructured.NestedMap(endpoints[0].(map[string]any), "tlsConfig")
		Expect(tlsConfig).NotTo(HaveKey("insecureSkipVerify"))
		caSecret, _, _ := unstructured.NestedString(tlsConfig, "ca", "secret", "name")
		serverName, _, _ := unstructured.NestedString(tlsConfig, "serverName")

		overlay := GinkgoT().TempDir()
		config, err := filepath.Rel(overlay, filepath.Join(controlplane.RepoRoot(), "config"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte("resources:\n- "+filepath.Join(config, "default")+
			"\ncomponents:\n- "+filepath.Join(config, "certmanager")+"\n"), 0o600)).To(Succeed())
		objs := render(overlay)
		var metricsCert *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Certificate" && o.GetName() == "org-operator-metrics-tls" {
				metricsCert = o
			}
		}
		Expect(metricsCert).NotTo(BeNil(), "config/certmanager issues no metrics certificate")
		secretName, _, _ := unstructured.NestedString(metricsCert.Object, "spec", "secretName")
		dnsNames, _, _ := unstructured.NestedStringSlice(metricsCert.Object, "spec", "dnsNames")
		Expect(caSecret).To(Equal(secretName), "the ServiceMonitor trusts the CA of another Secret")
		Expect(dnsNames).To(ContainElement(serverName), "the certificate is not issued for the name Prometheus checks")
		service := ""
		for _, o := range objs {
			if o.GetKind() == "Service" && strings.Contains(o.GetName(), "metrics") {
				service = o.GetName() + "." + o.GetNamespace() + ".svc"
			}
		}
		Expect(serverName).To(Equal(service), "the name Prometheus checks is not the metrics Service's")

		d := &appsv1.Deployment{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(findIn(objs, "Deployment").Object, d)).To(Succeed())
		pod := d.Spec.Template.Spec
		var mount string
		for _, v := range pod.Volumes {
			if v.Secret != nil && v.Secret.SecretName == secretName {
				for _, m := range pod.Containers[0].VolumeMounts {
					if m.Name == v.Name {
						mount = m.MountPath
					}
				}
			}
		}
		Expect(mount).NotTo(BeEmpty(), "the metrics certificate's Secret is not mounted")
		Expect(pod.Containers[0].Args).To(ContainElement("--metrics-cert-path=" + mount))
	})
})
