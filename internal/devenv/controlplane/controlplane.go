// Package controlplane starts the project's real test control plane: envtest
// with the kube-apiserver and etcd built by `make envtest-assets`, with the
// project's CRDs installed, and gives identities on it (ServiceAccount
// tokens, kubeconfigs). It is development and test support only.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// ErrNoAssets explains how to get the control-plane binaries.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, " +
	"or build the binaries with `make envtest-assets` and export KUBEBUILDER_ASSETS=$(make -s envtest-assets-path)")

// RepoRoot is the root of the repository, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// CRDPath is the folder of the generated CRDs.
func CRDPath() string {
	return filepath.Join(RepoRoot(), "config", "crd", "bases")
}

// New returns an envtest environment that installs the project's CRDs and
// whose etcd and kube-apiserver die with this process (DieWithStarter). It
// fails early with ErrNoAssets when the binaries were not provided.
func New() (*envtest.Environment, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, ErrNoAssets
	}
	if err := tenancyv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{CRDPath()},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.Scheme,
	}
	if err := DieWithStarter(env, os.Getenv("KUBEBUILDER_ASSETS")); err != nil {
		return nil, err
	}
	return env, nil
}

// Start creates and starts an environment; stop it with env.Stop().
func Start() (*envtest.Environment, *rest.Config, error) {
	env, err := New()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	return env, cfg, nil
}

// OrganizationGVK is the GroupVersionKind of Organization.
var OrganizationGVK = schema.GroupVersionKind{Group: tenancyv1alpha1.GroupVersion.Group, Version: tenancyv1alpha1.GroupVersion.Version, Kind: "Organization"}

// BuildManager builds the shipped manager binary (./cmd) into dir and
// returns its path; the error carries the compiler's output.
func BuildManager(dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, "./cmd")
	build.Dir = RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd: %w\n%s", err, out)
	}
	return bin, nil
}

// CreateNamespaces creates the namespaces the operator needs (by default
// its own and the tenants' credentials namespace); ones that exist are fine.
func CreateNamespaces(ctx context.Context, c client.Client, names ...string) error {
	if len(names) == 0 {
		names = []string{tenancyv1alpha1.DefaultOperatorNamespace, tenancyv1alpha1.DefaultCredentialsNamespace}
	}
	for _, name := range names {
		err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}
