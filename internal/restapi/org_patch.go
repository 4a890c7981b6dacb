package restapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
)

// PatchInput changes one's own organization.
type PatchInput struct {
	AuthHeader
	Name string `path:"name" maxLength:"63" doc:"The organization's name (your own)"`
	Body PatchBody
}

// PatchBody holds the changes; at least one field must be set.
type PatchBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"New name: the organization is renamed (its data, admin account and password move to the new name); log in again afterwards"`
	DisplayName *string `json:"displayName,omitempty" maxLength:"200" doc:"New display name"`
	AdminEmail  *string `json:"adminEmail,omitempty" format:"email" maxLength:"254" doc:"New admin email (the login name)"`
	Password    *string `json:"password,omitempty" minLength:"12" maxLength:"128" doc:"New admin password; ends every earlier session"`
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
	}
	desired, err := s.desiredSpec(ctx, p.org, b)
	if err != nil {
		return nil, err
	}
	if b.renames(p.org.Name) {
		return s.rename(ctx, p, desired, *b.Name)
	}
	newPassword, err := s.passwordChange(p, b)
	if err != nil {
		return nil, err
	}
	return s.applyPatch(ctx, p, desired, newPassword)
}

// desiredSpec is the organization with the body's display name and email;
// an email another organization's admin holds is a 409.
func (s *Server) desiredSpec(ctx context.Context, org *tenancyv1alpha1.Organization, b PatchBody) (*tenancyv1alpha1.Organization, error) {
	desired := org.DeepCopy()
	if b.DisplayName != nil {
		desired.Spec.DisplayName = *b.DisplayName
	}
	if b.AdminEmail != nil && mongostore.NormalizeEmail(*b.AdminEmail) != mongostore.NormalizeEmail(org.Spec.Admin.Email) {
		if err := s.store.CheckEmailFree(ctx, *b.AdminEmail, org.Name); errors.Is(err, mongostore.ErrEmailInUse) {
			return nil, errEmailTaken()
		} else if err != nil {
			return nil, s.storeError(err)
		}
		desired.Spec.Admin.Email = *b.AdminEmail
	}
	return desired, nil
}

// passwordChange is the new password to write, "" when none was given or it
// is the current one. Comparing costs a hash: without a free hashing slot
// the answer is 429, as for a login.
func (s *Server) passwordChange(p *principal, b PatchBody) (string, error) {
	if b.Password == nil {
		return "", nil
	}
	release, ok := s.slots.TryAcquire()
	if !ok {
		return "", errTooManyRequests("the server is busy verifying passwords; retry shortly", time.Second)
	}
	same, _ := password.Verify(*b.Password, p.admin.PasswordHash)
	release()
	if same {
		return "", nil
	}
	return *b.Password, nil
}

// applyPatch writes the spec (when it changed) and the password (when one
// is given), then waits until the controller has made the change effective:
// 200 when it did within the change timeout, else 202 with a Location.
func (s *Server) applyPatch(ctx context.Context, p *principal, desired *tenancyv1alpha1.Organization, newPassword string) (*OrganizationOutput, error) {
	generation := p.org.Generation
	if !equalSpec(p.org, desired) {
		patch := client.MergeFromWithOptions(p.org, client.MergeFromWithOptimisticLock{})
		if err := s.client.Patch(ctx, desired, patch); err != nil {
			return nil, s.kubeError(err)
		}
		generation = desired.Generation
	}
	if newPassword != "" {
		if err := s.writePassword(ctx, desired, newPassword); err != nil {
			return nil, err
		}
	}
	org, done := s.waitFor(ctx, p.org.Name, func(org *tenancyv1alpha1.Organization) bool {
		return reconciledAt(generation)(org) && (newPassword == "" || s.rehashed(ctx, org.Name, p.admin.PasswordHash))
	})
	if org == nil {
		return nil, errOrgNotFound()
	}
	if !done {
		return &OrganizationOutput{Status: http.StatusAccepted, Location: organizationPath(org.Name), Body: view(org)}, nil
	}
	return &OrganizationOutput{Status: http.StatusOK, Body: view(org)}, nil
}

// rehashed reports whether the controller replaced the admin's hash.
func (s *Server) rehashed(ctx context.Context, organization, previousHash string) bool {
	admin, err := s.store.GetAdmin(ctx, organization)
	return err == nil && admin != nil && admin.PasswordHash != previousHash
}

func equalSpec(a, b *tenancyv1alpha1.Organization) bool {
	return a.Spec.DisplayName == b.Spec.DisplayName && a.Spec.Admin.Email == b.Spec.Admin.Email
}

// writePassword stores a new password in the organization's credentials
// Secret (the one it references, or the operator-owned <name>-admin); the
// controller then rehashes it and increases credentialsVersion.
func (s *Server) writePassword(ctx context.Context, org *tenancyv1alpha1.Organization, newPassword string) error {
	name, key := org.PasswordSource()
	secret := &corev1.Secret{}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.cfg.CredentialsNamespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return huma.Error409Conflict("the organization's credentials Secret is missing; retry in a moment")
		}
		return s.kubeError(err)
	}
	updated := secret.DeepCopy()
	if updated.Data == nil {
		updated.Data = map[string][]byte{}
	}
	updated.Data[key] = []byte(newPassword)
	return s.kubeError(s.client.Patch(ctx, updated, client.MergeFromWithOptions(secret, client.MergeFromWithOptimisticLock{})))
}
