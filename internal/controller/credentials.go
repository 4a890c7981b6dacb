package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
)

// credentials is the admin's current password (or the argon2id hash a
// Secret gives instead) and the source it came from.
type credentials struct {
	password string
	// hash, when set, is an argon2id hash the Secret holds instead of a
	// password (a password chosen through the REST API is never kept in clear).
	hash string
	// generated is true when this reconcile generated the password (so it
	// carries 190 random bits and may take the fast hash).
	generated bool
	// fingerprint identifies the source version (Secret UID, resourceVersion
	// and key): the hash is recomputed only when it changes.
	fingerprint string
}

// known reports whether the credentials themselves were read; false when
// only the fingerprint is known (the Secret's metadata showed the version
// the admin record was derived from, and its data was not read).
func (c credentials) known() bool { return c.password != "" || c.hash != "" }

func fingerprint(s metav1.Object, key string) string {
	return fmt.Sprintf("%s/%s/%s", s.GetUID(), s.GetResourceVersion(), key)
}

// reconcileCredentials resolves the admin's password, from the Secret named by
// spec.admin.passwordSecretRef or from the operator-owned Secret, and records
// the Secret in status.credentialsSecretRef. The cache holds Secrets as
// metadata only: when the metadata shows the Secret at the version the
// admin record was derived from (and, for the owned Secret, labelled and
// owned as it should be), nothing more is read; otherwise the Secret is read
// from the apiserver.
func (r *OrganizationReconciler) reconcileCredentials(ctx context.Context, t *tenant) error {
	if t.org.Spec.Admin.PasswordSecretRef != nil {
		return r.readReferencedSecret(ctx, t, false)
	}
	return r.reconcileOwnedSecret(ctx, t, false)
}

// readCredentials is reconcileCredentials reading the Secret's data
// whatever its metadata says (the admin step needs the password).
func (r *OrganizationReconciler) readCredentials(ctx context.Context, t *tenant) error {
	if t.org.Spec.Admin.PasswordSecretRef != nil {
		return r.readReferencedSecret(ctx, t, true)
	}
	return r.reconcileOwnedSecret(ctx, t, true)
}

// readReferencedSecret reads (never copies) the Secret the spec references.
// It must be labelled for this organization and not be one of the
// operator's own Secrets (else Stalled PasswordSecretNotAllowed), so that a
// Secret serves one organization only. A missing Secret or key stalls the
// Organization with PasswordSecretNotFound; the Secret watch wakes it up as
// soon as the Secret appears.
func (r *OrganizationReconciler) readReferencedSecret(ctx context.Context, t *tenant, full bool) error {
	name, key := t.org.PasswordSource()
	t.org.Status.CredentialsSecretRef = &tenancyv1alpha1.SecretReference{Namespace: r.CredentialsNamespace, Name: name}
	if slices.Contains(r.ProtectedSecrets, name) {
		return stalled(tenancyv1alpha1.ReasonPasswordSecretNotAllowed,
			"Secret %s/%s is one of the operator's own Secrets; name a Secret holding this organization's password", r.CredentialsNamespace, name)
	}
	nn := types.NamespacedName{Namespace: r.CredentialsNamespace, Name: name}
	m, err := r.secretMetadata(ctx, nn)
	if err == nil && !full && referenceAllowed(m, t.org.Name) == nil {
		if fp := r.verifiedFingerprint(t.org, m, key); fp != "" {
			t.creds = credentials{fingerprint: fp}
			return nil
		}
	}
	secret := &corev1.Secret{}
	if err == nil {
		err = r.APIReader.Get(ctx, nn, secret)
	}
	if apierrors.IsNotFound(err) {
		return stalled(tenancyv1alpha1.ReasonPasswordSecretNotFound,
			"Secret %s/%s named by spec.admin.passwordSecretRef does not exist", r.CredentialsNamespace, name)
	}
	if err != nil {
		return err
	}
	if err := referenceAllowed(secret, t.org.Name); err != nil {
		return err
	}
	return r.credentialsFrom(t, secret, key, false)
}

// referenceAllowed stalls with PasswordSecretNotAllowed unless the Secret
// is labelled for the organization (a Secret serves one organization).
func referenceAllowed(secret metav1.Object, organization string) error {
	switch owner := secret.GetLabels()[tenancyv1alpha1.LabelOrganization]; {
	case owner == "":
		return stalled(tenancyv1alpha1.ReasonPasswordSecretNotAllowed,
			"Secret %s/%s is not labelled %s=%s; label it for this organization (a Secret serves one organization)",
			secret.GetNamespace(), secret.GetName(), tenancyv1alpha1.LabelOrganization, organization)
	case owner != organization:
		return stalled(tenancyv1alpha1.ReasonPasswordSecretNotAllowed,
			"Secret %s/%s belongs to organization %s (label %s); a Secret serves one organization",
			secret.GetNamespace(), secret.GetName(), owner, tenancyv1alpha1.LabelOrganization)
	}
	return nil
}

// credentialsFrom takes the credentials from secret: its argon2id hash when
// it holds one (which must stay within password.CheckGivenHash's bounds,
// else Stalled InvalidPasswordHash), else the password under key.
func (r *OrganizationReconciler) credentialsFrom(t *tenant, secret *corev1.Secret, key string, generated bool) error {
	if h := string(secret.Data[tenancyv1alpha1.SecretKeyPasswordHash]); h != "" {
		if err := password.CheckGivenHash(h, r.HashParams); err != nil {
			return stalled(tenancyv1alpha1.ReasonInvalidPasswordHash, "Secret %s/%s key %q: %v",
				secret.Namespace, secret.Name, tenancyv1alpha1.SecretKeyPasswordHash, err)
		}
		t.creds = credentials{hash: h, fingerprint: fingerprint(secret, tenancyv1alpha1.SecretKeyPasswordHash)}
		return nil
	}
	if len(secret.Data[key]) == 0 {
		return stalled(tenancyv1alpha1.ReasonPasswordSecretNotFound,
			"Secret %s/%s has no non-empty key %q", secret.Namespace, secret.Name, key)
	}
	t.creds = credentials{password: string(secret.Data[key]), generated: generated, fingerprint: fingerprint(secret, key)}
	return nil
}

// reconcileOwnedSecret makes sure the Secret <name>-admin exists with the
// organization, email and password keys. The password is generated once and
// never regenerated while the Secret holds one; a deleted Secret (or a deleted
// password key) gets a new password and a Warning event.
func (r *OrganizationReconciler) reconcileOwnedSecret(ctx context.Context, t *tenant, full bool) error {
	key := types.NamespacedName{Namespace: r.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(t.org.Name)}
	t.org.Status.CredentialsSecretRef = &tenancyv1alpha1.SecretReference{Namespace: key.Namespace, Name: key.Name}
	m, err := r.secretMetadata(ctx, key)
	if err == nil && !full && ownedMetadataCurrent(m, t.org) {
		if fp := r.verifiedFingerprint(t.org, m, tenancyv1alpha1.SecretKeyPassword); fp != "" {
			t.creds = credentials{fingerprint: fp}
			return nil
		}
	}
	secret := &corev1.Secret{}
	if err == nil {
		err = r.APIReader.Get(ctx, key, secret)
	}
	if apierrors.IsNotFound(err) {
		// Create only if absent: the cache may lag behind a Secret created
		// moments ago, and an existing Secret's password is never replaced.
		err = r.createOwnedSecret(ctx, t, key)
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		err = r.APIReader.Get(ctx, key, secret)
	}
	if err != nil {
		return err
	}
	return r.updateOwnedSecret(ctx, t, secret)
}

func (r *OrganizationReconciler) createOwnedSecret(ctx context.Context, t *tenant, key types.NamespacedName) error {
	pw, hash := r.inheritedPassword(ctx, t.org) // a rename keeps the admin's password
	generated := pw == "" && hash == ""
	if generated {
		var err error
		if pw, err = password.Generate(); err != nil {
			return err
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Type:       corev1.SecretTypeOpaque,
	}
	if err := r.setOwnedSecretContent(t.org, secret); err != nil {
		return err
	}
	if hash != "" {
		secret.Data[tenancyv1alpha1.SecretKeyPasswordHash] = []byte(hash)
	} else {
		secret.Data[tenancyv1alpha1.SecretKeyPassword] = []byte(pw)
	}
	if generated {
		secret.Annotations = map[string]string{tenancyv1alpha1.AnnotationGeneratedPassword: password.Digest(pw)}
	}
	r.selfWrites.begin(secret)
	err := r.Create(ctx, secret)
	t.othersWrote = r.selfWrites.end(secret, err) || t.othersWrote
	if err != nil {
		return fmt.Errorf("create credentials Secret %s: %w", key, err) // AlreadyExists stays recognisable
	}
	switch {
	case t.takenOver:
		r.event(t.org, corev1.EventTypeNormal, EventCredentialsGenerated, actionCreate,
			"Generated the admin password in Secret %s (the sign-up's credentials were voided)", key)
	case t.org.Spec.RenamedFrom != "" && !t.wasReady:
		t.provisioned = append(t.provisioned, fmt.Sprintf(
			"wrote the admin credentials to Secret %s (password kept from organization %s when it had one)", key, t.org.Spec.RenamedFrom))
	case t.wasReady:
		r.event(t.org, corev1.EventTypeWarning, EventCredentialsRegenerated, actionCreate,
			"Credentials Secret %s was missing: generated a new admin password; earlier sessions end", key)
	default:
		t.provisioned = append(t.provisioned, fmt.Sprintf("generated the admin password in Secret %s", key))
	}
	return r.credentialsFrom(t, secret, tenancyv1alpha1.SecretKeyPassword, generated)
}

func (r *OrganizationReconciler) updateOwnedSecret(ctx context.Context, t *tenant, secret *corev1.Secret) error {
	if !metav1.IsControlledBy(secret, t.org) && !labelledFor(secret, t.org.Name) {
		return stalled(tenancyv1alpha1.ReasonCredentialsSecretConflict,
			"Secret %s/%s exists but was not created by the operator for this organization; delete or rename it",
			secret.Namespace, secret.Name)
	}
	desired := secret.DeepCopy()
	if err := r.setOwnedSecretContent(t.org, desired); err != nil {
		return err
	}
	regenerated := len(desired.Data[tenancyv1alpha1.SecretKeyPassword]) == 0 && len(desired.Data[tenancyv1alpha1.SecretKeyPasswordHash]) == 0
	if regenerated {
		pw, err := password.Generate()
		if err != nil {
			return err
		}
		desired.Data[tenancyv1alpha1.SecretKeyPassword] = []byte(pw)
		metav1.SetMetaDataAnnotation(&desired.ObjectMeta, tenancyv1alpha1.AnnotationGeneratedPassword, password.Digest(pw))
	}
	generated := stillGenerated(desired)
	if !equality.Semantic.DeepEqual(secret, desired) {
		patch := client.MergeFromWithOptions(secret, client.MergeFromWithOptimisticLock{})
		r.selfWrites.begin(desired)
		err := r.Patch(ctx, desired, patch)
		t.othersWrote = r.selfWrites.end(desired, err) || t.othersWrote
		if err != nil {
			return fmt.Errorf("update credentials Secret %s/%s: %w", secret.Namespace, secret.Name, err)
		}
	}
	if regenerated {
		r.event(t.org, corev1.EventTypeWarning, EventCredentialsRegenerated, actionUpdate,
			"Credentials Secret %s/%s had no password: generated a new one; earlier sessions end",
			desired.Namespace, desired.Name)
	}
	return r.credentialsFrom(t, desired, tenancyv1alpha1.SecretKeyPassword, generated)
}

// stillGenerated reports whether the owned Secret still holds the password
// the operator generated, and otherwise drops the digest that no longer
// describes it (someone set another password, which may be guessable).
func stillGenerated(s *corev1.Secret) bool {
	digest, ok := s.Annotations[tenancyv1alpha1.AnnotationGeneratedPassword]
	if !ok {
		return false
	}
	if digest == password.Digest(string(s.Data[tenancyv1alpha1.SecretKeyPassword])) {
		return true
	}
	delete(s.Annotations, tenancyv1alpha1.AnnotationGeneratedPassword)
	return false
}

// setOwnedSecretContent sets the labels, the controller reference and the
// organization and email keys; the password key is left alone.
func (r *OrganizationReconciler) setOwnedSecretContent(org *tenancyv1alpha1.Organization, s *corev1.Secret) error {
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[tenancyv1alpha1.LabelManagedBy] = tenancyv1alpha1.ManagedBy
	s.Labels[tenancyv1alpha1.LabelOrganization] = org.Name
	// Adopt a Secret labelled for this organization whose owner is an earlier
	// incarnation (for example restored from a backup with new UIDs).
	owners := s.OwnerReferences[:0:0]
	for _, o := range s.OwnerReferences {
		earlierIncarnation := o.Kind == "Organization" && o.Name == org.Name && o.UID != org.UID
		if !earlierIncarnation {
			owners = append(owners, o)
		}
	}
	s.OwnerReferences = owners
	if err := controllerutil.SetControllerReference(org, s, r.Scheme); err != nil {
		return err
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data[tenancyv1alpha1.SecretKeyOrganization] = []byte(org.Name)
	s.Data[tenancyv1alpha1.SecretKeyEmail] = []byte(org.Spec.Admin.Email)
	return nil
}

func labelledFor(s metav1.Object, organization string) bool {
	return s.GetLabels()[tenancyv1alpha1.LabelManagedBy] == tenancyv1alpha1.ManagedBy &&
		s.GetLabels()[tenancyv1alpha1.LabelOrganization] == organization
}
