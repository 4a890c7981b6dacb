package restapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// SignupInput creates an organization (only with --signup=open).
type SignupInput struct {
	Body struct {
		Name        string `json:"name" minLength:"1" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's id: a DNS-1123 label"`
		DisplayName string `json:"displayName,omitempty" maxLength:"200"`
		AdminEmail  string `json:"adminEmail" format:"email" maxLength:"254"`
		Password    string `json:"password" minLength:"12" maxLength:"128"`
	}
}

// signup creates the Organization, referencing the Secret <name>-signup,
// and then that Secret, owned by the Organization from its first moment (so
// it goes with it) and created only if absent (a leftover is never
// overwritten). If the Secret cannot be created the Organization is deleted
// again and the error answered.
func (s *Server) signup(ctx context.Context, in *SignupInput) (*OrganizationOutput, error) {
	if err := s.rateLimited(ctx); err != nil {
		return nil, err
	}
	if s.cfg.Signup != SignupOpen {
		return nil, huma.Error403Forbidden("self-service sign-up is disabled on this server")
	}
	b := in.Body
	if err := s.checkSignupFree(ctx, b.Name, b.AdminEmail); err != nil {
		return nil, err
	}
	org := &tenancyv1alpha1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: b.Name},
		Spec: tenancyv1alpha1.OrganizationSpec{DisplayName: b.DisplayName, Admin: tenancyv1alpha1.AdminSpec{
			Email: b.AdminEmail, PasswordSecretRef: &tenancyv1alpha1.SecretKeyRef{
				Name: tenancyv1alpha1.SignupSecretName(b.Name), Key: tenancyv1alpha1.SecretKeyPassword}}},
	}
	if err := s.client.Create(ctx, org); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errNameTaken()
		}
		return nil, s.kubeError(err)
	}
	if err := s.createSignupSecret(ctx, org, b.Password); err != nil {
		if derr := s.client.Delete(ctx, org, client.Preconditions{UID: &org.UID}); derr != nil && !apierrors.IsNotFound(derr) {
			s.log.Error(derr, "removing the organization of a failed sign-up", "organization", org.Name)
		}
		return nil, err
	}
	got, done := s.waitFor(ctx, org.Name, reconciledAt(org.Generation))
	if got == nil {
		got = org
	}
	out := &OrganizationOutput{Status: http.StatusCreated, Location: organizationPath(org.Name), Body: view(got)}
	if !done {
		out.Status = http.StatusAccepted
	}
	return out, nil
}

// checkSignupFree answers 409 when the name or the email is taken.
func (s *Server) checkSignupFree(ctx context.Context, name, email string) error {
	if existing, err := s.liveOrganization(ctx, name); err != nil {
		return err
	} else if existing != nil {
		return errNameTaken()
	}
	if err := s.store.CheckEmailFree(ctx, email, name); errors.Is(err, mongostore.ErrEmailInUse) {
		return errEmailTaken()
	} else if err != nil {
		return s.storeError(err)
	}
	return nil
}

// createSignupSecret creates <name>-signup holding the chosen password,
// labelled for the organization and controlled by it. An existing Secret of
// that name is a 409: it is never overwritten.
func (s *Server) createSignupSecret(ctx context.Context, org *tenancyv1alpha1.Organization, pw string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.cfg.CredentialsNamespace, Name: tenancyv1alpha1.SignupSecretName(org.Name),
			Labels: map[string]string{tenancyv1alpha1.LabelManagedBy: tenancyv1alpha1.ManagedBy, tenancyv1alpha1.LabelOrganization: org.Name}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{tenancyv1alpha1.SecretKeyPassword: []byte(pw)},
	}
	if err := controllerutil.SetControllerReference(org, secret, s.client.Scheme()); err != nil {
		return err
	}
	err := s.client.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		return huma.Error409Conflict("a sign-up Secret for that name already exists; ask the platform team to remove it")
	}
	return s.kubeError(err)
}
