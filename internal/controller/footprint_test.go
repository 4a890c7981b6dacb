//go:build integration

package controller_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// secretMetadata is an empty Secret's metadata, to read from the cache.
func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

var _ = Describe("9. Footprint", func() {
	It("caches Secrets only in the credentials namespace", func() {
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "elsewhere"}})).To(Succeed())
		cached := mgr.Manager.GetCache()
		err := cached.Get(ctx, client.ObjectKey{Namespace: "default", Name: "elsewhere"}, secretMetadata())
		Expect(err).To(HaveOccurred(), "a Secret outside the credentials namespace is readable from the cache")
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		Expect(cached.List(ctx, list, client.InNamespace(credNS))).To(Succeed())
	})

	It("caches Secrets as metadata only: every list and watch of Secrets asks for metadata, and nothing else reads them in bulk", func() {
		name := uniqueName("metaonly")
		createOrg(newOrg(name))
		waitReady(name)
		var lists []testenv.Read
		for _, r := range mgr.KubeReads.All() {
			if strings.HasSuffix(r.Path, "/secrets") {
				lists = append(lists, r)
			}
		}
		Expect(lists).NotTo(BeEmpty(), "the cache never listed Secrets")
		for _, r := range lists {
			Expect(r.Accept).To(ContainSubstring("as=PartialObjectMetadata"), "a list or watch of whole Secrets: %+v", r)
		}
	})

	It("keeps no Secret's data, and not kubectl's last-applied configuration, in the cache", func() {
		name := uniqueName("lastapplied")
		org := newOrg(name)
		org.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: name + "-pw"}
		pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name + "-pw",
			Labels:      map[string]string{tenancyv1alpha1.LabelOrganization: name},
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: `{"stringData":{"password":"in-clear-here"}}`}},
			StringData: map[string]string{"password": "correct horse battery staple 42"}}
		Expect(k8s.Create(ctx, pw)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, pw))).To(Succeed()) })
		createOrg(org)
		waitReady(name)
		m := secretMetadata()
		Expect(mgr.Manager.GetCache().Get(ctx, client.ObjectKeyFromObject(pw), m)).To(Succeed())
		Expect(m.Annotations).NotTo(HaveKey(corev1.LastAppliedConfigAnnotation))
		Expect(m.Labels).To(HaveKeyWithValue(tenancyv1alpha1.LabelOrganization, name))
	})

	It("strips managedFields from cached objects", func() {
		name := uniqueName("slim")
		createOrg(newOrg(name))
		waitReady(name)
		Expect(getOrg(name).ManagedFields).NotTo(BeEmpty(), "the apiserver keeps managedFields")
		cachedOrg := &tenancyv1alpha1.Organization{}
		Expect(mgr.Manager.GetCache().Get(ctx, client.ObjectKey{Name: name}, cachedOrg)).To(Succeed())
		Expect(cachedOrg.ManagedFields).To(BeEmpty())
	})

	It("reads Secrets only through namespaced Roles; cluster-wide it may only write them (connection Secrets) and events", func() {
		// Issue 21 added connection Secrets in application namespaces: the
		// ClusterRole may create, apply (patch) and delete-by-label them,
		// never read them (the admission policy limits those writes to
		// Secrets labelled for an OrganizationAccess: test/rbac).
		data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "config", "rbac", "role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		sawSecretRole := false
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				break
			}
			if obj == nil {
				continue
			}
			kind := obj["kind"].(string)
			var role rbacv1.Role // a ClusterRole has the same rules field
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &role)).To(Succeed())
			for _, rule := range role.Rules {
				for _, res := range rule.Resources {
					switch {
					case res == "secrets" && kind == "Role":
						sawSecretRole = true
					case res == "secrets":
						Expect(rule.Verbs).To(ConsistOf("create", "patch", "deletecollection"), "cluster-wide Secret verbs")
						Expect(rule.ResourceNames).To(BeEmpty())
					case res == "events" && kind != "Role":
						Expect(rule.Verbs).To(ConsistOf("create", "patch"), "cluster-wide event verbs")
					}
				}
			}
		}
		Expect(sawSecretRole).To(BeTrue())
	})
})
