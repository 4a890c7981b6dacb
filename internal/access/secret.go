package access

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
)

// reconcileSecret writes the connection Secret in the access's namespace
// from the record, by server-side apply, every reconcile (the operator
// never reads Secrets there, so a Secret changed or deleted behind its
// back is written again at the next reconcile, at the latest after the
// resync period). A Secret of that name that the operator did not write
// is a SecretConflict and is left as it is. A Secret of an earlier
// spec.secretName is deleted.
func (r *Reconciler) reconcileSecret(ctx context.Context, b *binding) error {
	a := b.a
	conn, err := NewConnection(r.cfg.Endpoint, b.org, b.record.Username, b.record.Password)
	if err != nil {
		return conditions.Stalled(tenancyv1alpha1.ReasonInvalidSecretTemplate, "%v", err)
	}
	data, err := SecretData(conn, a.Spec.SecretTemplate)
	if err != nil {
		return conditions.Stalled(tenancyv1alpha1.ReasonInvalidSecretTemplate, "%v", err)
	}
	name := a.AccessSecretName()
	if err := r.Apply(ctx, connectionSecret(a, name, data), client.FieldOwner(tenancyv1alpha1.FieldManagerController)); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return conditions.Stalled(tenancyv1alpha1.ReasonSecretConflict,
				"Secret %s/%s exists and was not written by the operator for this access: choose another spec.secretName or delete it (%s)",
				a.Namespace, name, apierrors.ReasonForError(err))
		}
		return err
	}
	if old := a.Status.SecretName; old != "" && old != name {
		if err := r.deleteConnectionSecret(ctx, a, old); err != nil {
			return err
		}
	}
	a.Status.SecretName = name
	return nil
}

// connectionSecret is the apply configuration of the connection Secret:
// labelled for the access and owned by it (garbage-collected with it).
func connectionSecret(a *tenancyv1alpha1.OrganizationAccess, name string, data map[string][]byte) *corev1ac.SecretApplyConfiguration {
	gvk := tenancyv1alpha1.GroupVersion.WithKind("OrganizationAccess")
	return corev1ac.Secret(name, a.Namespace).
		WithLabels(map[string]string{tenancyv1alpha1.LabelAccess: a.Name, tenancyv1alpha1.LabelManagedBy: tenancyv1alpha1.ManagedBy}).
		WithOwnerReferences(metav1ac.OwnerReference().WithAPIVersion(gvk.GroupVersion().String()).WithKind(gvk.Kind).
			WithName(a.Name).WithUID(a.UID).WithController(true).WithBlockOwnerDeletion(true)).
		WithType(corev1.SecretTypeOpaque).
		WithData(data)
}

// deleteConnectionSecret deletes the connection Secret name of a only if
// it carries a's label: the operator cannot read Secrets in application
// namespaces, so it deletes by name and label selector at once
// (deletecollection), and a Secret someone else made under that name is
// never touched.
func (r *Reconciler) deleteConnectionSecret(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess, name string) error {
	if name == "" {
		return nil
	}
	err := r.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(a.Namespace),
		client.MatchingLabels{tenancyv1alpha1.LabelAccess: a.Name, tenancyv1alpha1.LabelManagedBy: tenancyv1alpha1.ManagedBy},
		client.MatchingFields{"metadata.name": name})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Secret %s/%s: %w", a.Namespace, name, err)
	}
	return nil
}
