package access

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// record is the operator's own copy of an access's credentials, a Secret
// in the credentials namespace (oa-<access UID>): the connection Secret in
// the application's namespace is written from it and never read, so the
// operator needs no read access to application namespaces' Secrets. A
// rotation first records the new user and password as pending, then sets
// them in MongoDB, then publishes them: a crash at any point resumes with
// the same password, and the published one is always one MongoDB accepts.
// Publishing names the replaced user as retiring in the same write, so
// that it is dropped after the grace period whatever became of status.
type record struct {
	// Username and Password are published (the connection Secret's).
	Username, Password string
	// PendingUsername and PendingPassword are being set in MongoDB.
	PendingUsername, PendingPassword string
	// PreviousUsername is the user the last rotation replaced, dropped at
	// RetiresAt ("" and zero when none).
	PreviousUsername string
	RetiresAt        time.Time
	// Roles are the roles last granted to the published user.
	Roles []string
}

// Keys and annotations of a record Secret.
const (
	recordKeyUsername        = "username"
	recordKeyPassword        = "password"
	recordKeyPendingUsername = "pendingUsername"
	recordKeyPendingPassword = "pendingPassword"
	recordKeyPrevious        = "previousUsername"
	recordKeyRetiresAt       = "previousRetiresAt"
	annotationRecordRoles    = "tenancy.org-operator.io/access-roles"
	annotationRecordAccess   = "tenancy.org-operator.io/access-name"
)

func recordFromSecret(s *corev1.Secret) *record {
	r := &record{
		Username: string(s.Data[recordKeyUsername]), Password: string(s.Data[recordKeyPassword]),
		PendingUsername: string(s.Data[recordKeyPendingUsername]), PendingPassword: string(s.Data[recordKeyPendingPassword]),
	}
	if roles := s.Annotations[annotationRecordRoles]; roles != "" {
		r.Roles = strings.Split(roles, ",")
	}
	if prev := string(s.Data[recordKeyPrevious]); prev != "" {
		// An unreadable time retires the user at once: it was replaced.
		at, _ := time.Parse(time.RFC3339Nano, string(s.Data[recordKeyRetiresAt]))
		r.PreviousUsername, r.RetiresAt = prev, at
	}
	return r
}

// secretData is the record's data.
func (r *record) secretData() map[string][]byte {
	data := map[string][]byte{}
	retires := ""
	if r.PreviousUsername != "" {
		retires = r.RetiresAt.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range map[string]string{recordKeyUsername: r.Username, recordKeyPassword: r.Password,
		recordKeyPendingUsername: r.PendingUsername, recordKeyPendingPassword: r.PendingPassword,
		recordKeyPrevious: r.PreviousUsername, recordKeyRetiresAt: retires} {
		if v != "" {
			data[k] = []byte(v)
		}
	}
	return data
}

// readRecord reads a's record from the cache; nil when there is none.
func (r *Reconciler) readRecord(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess) (*record, error) {
	s := &corev1.Secret{}
	key := client.ObjectKey{Namespace: r.cfg.CredentialsNamespace, Name: tenancyv1alpha1.AccessCredentialsName(string(a.UID))}
	if err := r.Get(ctx, key, s); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return recordFromSecret(s), nil
}

// writeRecord creates or replaces a's record for organization.
func (r *Reconciler) writeRecord(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess, organization string, rec *record) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: r.cfg.CredentialsNamespace, Name: tenancyv1alpha1.AccessCredentialsName(string(a.UID)),
			Labels: map[string]string{tenancyv1alpha1.LabelManagedBy: tenancyv1alpha1.ManagedBy,
				tenancyv1alpha1.LabelAccessOrganization: organization, tenancyv1alpha1.LabelAccessNamespace: a.Namespace},
			Annotations: map[string]string{annotationRecordAccess: a.Name, annotationRecordRoles: strings.Join(rec.Roles, ",")},
		},
		Type: corev1.SecretTypeOpaque,
		Data: rec.secretData(),
	}
	existing := &corev1.Secret{}
	err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s), existing)
	if apierrors.IsNotFound(err) {
		return r.Create(ctx, s)
	}
	if err != nil {
		return err
	}
	s.ResourceVersion = existing.ResourceVersion
	return r.Update(ctx, s)
}

// deleteRecord deletes a's record when present.
func (r *Reconciler) deleteRecord(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.CredentialsNamespace,
		Name: tenancyv1alpha1.AccessCredentialsName(string(a.UID))}}
	return client.IgnoreNotFound(r.Delete(ctx, s))
}

// sameRoles compares granted role lists.
func sameRoles(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
