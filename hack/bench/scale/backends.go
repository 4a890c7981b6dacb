package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
)

// secondBackend is the MongoBackend of the second deployment (-backends 2):
// a FerretDB process on SQLite of its own, beside the first store.
const secondBackend = "second"

// startSecondBackend starts the second deployment, its connection Secret
// and its MongoBackend, and waits until the MongoBackend is Ready.
func (e *benchEnv) startSecondBackend(ctx context.Context) error {
	p, err := ferretdb.StartProcess(ferretdb.ProcessOptions{Binary: filepath.Join(controlplane.RepoRoot(), "bin", "ferretdb"),
		Backend: ferretdb.SQLite, Dir: filepath.Join(e.dir, "ferretdb-second"), LogPath: filepath.Join(e.dir, "ferretdb-second.log")})
	if err != nil {
		return err
	}
	e.second = p
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credentialsNamespace, Name: secondBackend + "-mongodb"},
		StringData: map[string]string{"uri": p.URI()}}
	if err := e.k8s.Create(ctx, secret); err != nil {
		return err
	}
	b := &tenancyv1alpha1.MongoBackend{ObjectMeta: metav1.ObjectMeta{Name: secondBackend},
		Spec: tenancyv1alpha1.MongoBackendSpec{ConnectionSecretRef: tenancyv1alpha1.BackendSecretRef{Name: secret.Name}}}
	if err := e.k8s.Create(ctx, b); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := e.k8s.Get(ctx, client.ObjectKeyFromObject(b), b); err == nil &&
			meta.IsStatusConditionTrue(b.Status.Conditions, tenancyv1alpha1.ConditionReady) {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("MongoBackend %s did not become Ready", secondBackend)
}
