package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// secretMetadata reads a Secret's metadata from the cache, which holds
// Secrets as metadata only (CacheOptions): their data is read from the
// apiserver, and only when the metadata shows a version the controller has
// not checked. A missing Secret is a NotFound error.
func (r *OrganizationReconciler) secretMetadata(ctx context.Context, key types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.SecretCache.Get(ctx, key, m); err != nil {
		return nil, err
	}
	return m, nil
}

// verifiedFingerprint returns the credentials fingerprint of this version
// of the Secret (its password key, or the hash key that replaces it) when
// the admin record, as observed, was derived from exactly it and carries
// the spec's email: the Secret's data is then what the last check found.
// It returns "" otherwise, and the caller reads the data.
func (r *OrganizationReconciler) verifiedFingerprint(org *tenancyv1alpha1.Organization, m metav1.Object, key string) string {
	email := mongostore.NormalizeEmail(org.Spec.Admin.Email)
	for _, k := range []string{tenancyv1alpha1.SecretKeyPasswordHash, key} {
		if fp := fingerprint(m, k); r.observed.adminMatches(org.Name, email, fp) {
			return fp
		}
	}
	return ""
}

// ownedMetadataCurrent reports whether an owned Secret's metadata is what
// setOwnedSecretContent makes it: labelled for the organization, controlled
// by this incarnation of it, and owned by no earlier one.
func ownedMetadataCurrent(m metav1.Object, org *tenancyv1alpha1.Organization) bool {
	if !labelledFor(m, org.Name) || !metav1.IsControlledBy(m, org) {
		return false
	}
	for _, o := range m.GetOwnerReferences() {
		if o.Kind == "Organization" && o.Name == org.Name && o.UID != org.UID {
			return false
		}
	}
	return true
}
