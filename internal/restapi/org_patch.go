package restapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
)

// PatchInput changes one's own organization.
type PatchInput struct {
	AuthHeader
	Name string `path:"name" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's name (your own)"`
	Body PatchBody
}

// PatchBody holds the changes; at least one field must be set.
type PatchBody struct {
	Name            *string `json:"name,omitempty" minLength:"1" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"New name: the organization is renamed (its data, admin account and password move to the new name); log in again afterwards"`
	DisplayName     *string `json:"displayName,omitempty" maxLength:"200" doc:"New display name"`
	AdminEmail      *string `json:"adminEmail,omitempty" format:"email" maxLength:"254" doc:"New admin email (the login name): a plain address, e.g. admin@acme.example"`
	Password        *string `json:"password,omitempty" minLength:"12" maxLength:"128" doc:"New admin password; ends every earlier session. Kept only as an argon2id hash."`
	CurrentPassword *string `json:"currentPassword,omitempty" maxLength:"128" doc:"The current password: required to rename the organization or change the password or the admin email"`
}

func (b PatchBody) empty() bool {
	return b.Name == nil && b.DisplayName == nil && b.AdminEmail == nil && b.Password == nil
}

func (b PatchBody) renames(current string) bool { return b.Name != nil && *b.Name != current }

func (s *Server) patchOrganization(ctx context.Context, in *PatchInput) (*OrganizationOutput, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	b := in.Body
	switch {
	case b.empty():
		return nil, huma.Error400BadRequest("nothing to change: give name, displayName, adminEmail or password")
	case b.renames(p.org.Name) && b.Password != nil:
		return nil, huma.Error400BadRequest("change the name and the password in separate requests")
	case (b.Password != nil || b.AdminEmail != nil || b.renames(p.org.Name)) && b.CurrentPassword == nil:
		return nil, huma.Error400BadRequest("give currentPassword to rename the organization or change the password or the admin email")
	}
	if err := s.writeLimited(ctx, p); err != nil {
		return nil, err
	}
	if b.CurrentPassword != nil {
		if err := s.checkCurrentPassword(ctx, p, *b.CurrentPassword); err != nil {
			return nil, err
		}
	}
	desired, err := s.desiredSpec(ctx, p.org, b)
	if err != nil {
		return nil, err
	}
	if b.renames(p.org.Name) {
		return s.rename(ctx, p, desired, *b.Name)
	}
	newHash, err := s.newPasswordHash(b)
	if err != nil {
		return nil, err
	}
	return s.applyPatch(ctx, p, desired, newHash)
}

// desiredSpec is the organization with the body's display name and email;
// an email that is not a plain address is a 400, one another
// organization's admin holds a 409.
func (s *Server) desiredSpec(ctx context.Context, org *tenancyv1alpha1.Organization, b PatchBody) (*tenancyv1alpha1.Organization, error) {
	desired := org.DeepCopy()
	if b.DisplayName != nil {
		desired.Spec.DisplayName = *b.DisplayName
	}
	if b.AdminEmail == nil {
		return desired, nil
	}
	email, err := tenancyv1alpha1.ParseEmail(*b.AdminEmail)
	if err != nil {
		return nil, huma.Error400BadRequest("adminEmail: " + err.Error())
	}
	if email != mongostore.NormalizeEmail(org.Spec.Admin.Email) {
		if err := s.store.CheckEmailFree(ctx, email, org.Name); errors.Is(err, mongostore.ErrEmailInUse) {
			return nil, errEmailTaken()
		} else if err != nil {
			return nil, s.storeError(err)
		}
		desired.Spec.Admin.Email = *b.AdminEmail
	}
	return desired, nil
}

// newPasswordHash is the argon2id hash of the new password, "" when none
// was given or it is the current one. Hashing holds one of the process's
// hashing slots: without a free one the answer is 429, as for a login.
func (s *Server) newPasswordHash(b PatchBody) (string, error) {
	if b.Password == nil || *b.Password == *b.CurrentPassword {
		return "", nil
	}
	release, ok := s.slots.TryAcquire()
	if !ok {
		return "", errBusyHashing()
	}
	defer release()
	return password.Hash(*b.Password, s.cfg.HashParams)
}

// applyPatch writes the spec (when it changed; server-side apply, see
// applySpec) and the password hash (when one is given), then waits until the controller has made the change
// effective: 200 when it did within the change timeout, else 202 with a
// Location.
func (s *Server) applyPatch(ctx context.Context, p *principal, desired *tenancyv1alpha1.Organization, newHash string) (*OrganizationOutput, error) {
	generation := p.org.Generation
	if changes := specChanges(p.org, desired); len(changes) > 0 {
		written, err := s.applySpec(ctx, p.org.Name, changes)
		if err != nil {
			return nil, err
		}
		generation = written
	}
	if newHash != "" {
		if err := s.writePasswordHash(ctx, desired, newHash); err != nil {
			return nil, err
		}
	}
	org, done := s.waitFor(ctx, p.org.Name, func(org *tenancyv1alpha1.Organization) bool {
		return reconciledAt(generation)(org) && (newHash == "" || s.hashInPlace(ctx, org.Name, newHash))
	})
	if org == nil {
		return nil, errOrgNotFound()
	}
	if !done {
		return &OrganizationOutput{Status: http.StatusAccepted, Location: organizationPath(org.Name), Body: view(org)}, nil
	}
	return &OrganizationOutput{Status: http.StatusOK, Body: view(org)}, nil
}

// hashInPlace reports whether the controller wrote the hash to the admin record.
func (s *Server) hashInPlace(ctx context.Context, organization, hash string) bool {
	admin, err := s.store.GetAdmin(ctx, organization)
	return err == nil && admin != nil && admin.PasswordHash == hash
}

// writePasswordHash stores a new password's argon2id hash in the
// organization's credentials Secret, replacing the password it held (no
// chosen password is kept in clear); the controller then takes the hash
// and increases credentialsVersion. Only a Secret the organization owns is
// written: a password the platform keeps in a Secret of its own is a 409.
func (s *Server) writePasswordHash(ctx context.Context, org *tenancyv1alpha1.Organization, hash string) error {
	name, key := org.PasswordSource()
	secret := &corev1.Secret{}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.cfg.CredentialsNamespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return huma.Error409Conflict("the organization's credentials Secret is missing; retry in a moment")
		}
		return s.kubeError(err)
	}
	if !metav1.IsControlledBy(secret, org) {
		return huma.Error409Conflict(fmt.Sprintf("the admin password is managed by the platform (Secret %s/%s); ask your platform team to change it",
			secret.Namespace, secret.Name))
	}
	updated := secret.DeepCopy()
	if updated.Data == nil {
		updated.Data = map[string][]byte{}
	}
	delete(updated.Data, key)
	delete(updated.Data, tenancyv1alpha1.SecretKeyPassword)
	delete(updated.Annotations, tenancyv1alpha1.AnnotationGeneratedPassword)
	updated.Data[tenancyv1alpha1.SecretKeyPasswordHash] = []byte(hash)
	return s.kubeError(s.client.Patch(ctx, updated, client.MergeFromWithOptions(secret, client.MergeFromWithOptimisticLock{})))
}
