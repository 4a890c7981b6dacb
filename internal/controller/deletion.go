package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// reconcileDelete cleans up an Organization being deleted and then releases
// its finalizer. Retain (the default) removes only the admin record: the
// collection and every document in it stay. Delete also drops the dedicated
// collection. The credentials Secrets the Organization controls are deleted
// (their owner references would have the garbage collector do the same). While MongoDB is
// unreachable the finalizer stays, a DeletionBlocked event says why, and
// the step is retried with backoff: nothing is lost.
// It reports whether the finalizer was released.
func (r *OrganizationReconciler) reconcileDelete(ctx context.Context, t *tenant) (released bool, err error) {
	org := t.org
	if !controllerutil.ContainsFinalizer(org, tenancyv1alpha1.Finalizer) {
		return false, nil
	}
	if err := r.deleteTenantData(ctx, org); err != nil {
		err = classifyMongo(err)
		r.event(org, corev1.EventTypeWarning, EventDeletionBlocked, actionBlock,
			"Finalizer kept until MongoDB clean-up succeeds (deletionPolicy %s): %v", org.Spec.DeletionPolicy, err)
		return false, err
	}
	if err := r.deleteOwnedSecrets(ctx, org); err != nil {
		return false, err
	}
	base := org.DeepCopy()
	controllerutil.RemoveFinalizer(org, tenancyv1alpha1.Finalizer)
	if err := r.Patch(ctx, org, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return true, nil
}

func (r *OrganizationReconciler) deleteTenantData(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	removed, err := r.Store.DeleteAdmin(ctx, org.Name)
	if err != nil {
		return err
	}
	if removed {
		r.event(org, corev1.EventTypeNormal, EventAdminRemoved, actionDelete, "Removed the admin account")
	}
	if org.Spec.DeletionPolicy != tenancyv1alpha1.DeletionPolicyDelete || org.Spec.Tenancy == tenancyv1alpha1.TenancyShared {
		return nil
	}
	name := DedicatedCollection(org.Name)
	dropped, err := r.Store.DropCollection(ctx, name)
	if err != nil {
		return err
	}
	if dropped {
		r.event(org, corev1.EventTypeNormal, EventCollectionDropped, actionDelete,
			"Dropped collection %s.%s (deletionPolicy Delete)", r.Store.Database(), name)
	}
	return nil
}

// deleteOwnedSecrets deletes the credentials Secrets this Organization
// controls: <name>-admin, and a referenced Secret it owns (created at
// sign-up). A Secret someone else manages is never touched.
func (r *OrganizationReconciler) deleteOwnedSecrets(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	names := []string{CredentialsSecretName(org.Name)}
	if ref := org.Spec.Admin.PasswordSecretRef; ref != nil {
		names = append(names, ref.Name)
	}
	for _, name := range names {
		secret := &corev1.Secret{}
		key := types.NamespacedName{Namespace: r.CredentialsNamespace, Name: name}
		if err := r.Get(ctx, key, secret); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		if !metav1.IsControlledBy(secret, org) {
			continue
		}
		err := r.Delete(ctx, secret, client.Preconditions{UID: &secret.UID})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete credentials Secret %s: %w", key, err)
		}
	}
	return nil
}
