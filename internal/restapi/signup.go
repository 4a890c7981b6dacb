package restapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
)

// SignupInput creates an organization (only with --signup=open).
type SignupInput struct {
	Body struct {
		Name        string `json:"name" minLength:"1" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's id: a DNS-1123 label"`
		DisplayName string `json:"displayName,omitempty" maxLength:"200"`
		AdminEmail  string `json:"adminEmail" format:"email" maxLength:"254" doc:"The admin's email (the login name): a plain address, e.g. admin@acme.example"`
		Password    string `json:"password" minLength:"12" maxLength:"128" doc:"The admin's password; kept only as an argon2id hash"`
	}
}

// signup creates the Organization, referencing the Secret <name>-signup,
// and then that Secret, holding only the password's argon2id hash, owned by
// the Organization from its first moment (so it goes with it) and created
// only if absent (a leftover is never overwritten). If the Secret cannot be
// created the Organization is deleted again and the error answered. The
// Organization is labelled as created by sign-up, which is what the caps
// count.
func (s *Server) signup(ctx context.Context, in *SignupInput) (*OrganizationOutput, error) {
	if s.cfg.Signup != SignupOpen {
		return nil, huma.Error403Forbidden("self-service sign-up is disabled on this server")
	}
	b := in.Body
	email, err := tenancyv1alpha1.ParseEmail(b.AdminEmail)
	if err != nil {
		return nil, huma.Error400BadRequest("adminEmail: " + err.Error())
	}
	if err := s.checkSignupFree(ctx, b.Name, email); err != nil {
		return nil, err
	}
	forget, err := s.withinSignupCaps(ctx, b.Name)
	if err != nil {
		return nil, err
	}
	created := false
	defer func() {
		if !created {
			forget()
		}
	}()
	hash, err := s.hashChosen(b.Password)
	if err != nil {
		return nil, err
	}
	org := &tenancyv1alpha1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: b.Name, Labels: map[string]string{tenancyv1alpha1.LabelCreatedBy: tenancyv1alpha1.CreatedBySignup}},
		Spec: tenancyv1alpha1.OrganizationSpec{DisplayName: b.DisplayName, Admin: tenancyv1alpha1.AdminSpec{
			Email: b.AdminEmail, PasswordSecretRef: &tenancyv1alpha1.SecretKeyRef{
				Name: tenancyv1alpha1.SignupSecretName(b.Name), Key: tenancyv1alpha1.SecretKeyPasswordHash}}},
	}
	if err := s.client.Create(ctx, org); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errNameTaken()
		}
		return nil, s.kubeError(err)
	}
	created = true // it counts against the hourly cap from now on, deleted or not
	if err := s.createSignupSecret(ctx, org, hash); err != nil {
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

// hashChosen hashes a password a tenant admin chose with argon2id, holding
// one of the process's hashing slots (429 when none is free).
func (s *Server) hashChosen(pw string) (string, error) {
	release, ok := s.slots.TryAcquire()
	if !ok {
		return "", errBusyHashing()
	}
	defer release()
	return password.Hash(pw, s.cfg.HashParams)
}

// withinSignupCaps enforces the sign-up caps, across replicas: at the total
// cap (sign-up organizations that exist, counted from the cache) sign-up is
// closed (403); at the hourly cap (sign-ups recorded in MongoDB in the last
// hour, whether their organizations still exist or not) it answers 429
// until the oldest of them ages out. The sign-up is recorded first and
// counted with the others, so concurrent sign-ups cannot overshoot; forget
// removes the record of a sign-up that then creates nothing.
func (s *Server) withinSignupCaps(ctx context.Context, name string) (forget func(), err error) {
	forget = func() {}
	if s.cfg.SignupMaxTotal > 0 {
		var list tenancyv1alpha1.OrganizationList
		if err := s.client.List(ctx, &list, client.MatchingLabels{tenancyv1alpha1.LabelCreatedBy: tenancyv1alpha1.CreatedBySignup},
			client.UnsafeDisableDeepCopy); err != nil {
			s.log.Error(err, "counting sign-ups")
			return forget, errUnavailable()
		}
		if len(list.Items) >= s.cfg.SignupMaxTotal {
			return forget, huma.Error403Forbidden("sign-up is closed: the platform's limit of organizations created by sign-up is reached")
		}
	}
	if s.cfg.SignupMaxPerHour == 0 {
		return forget, nil
	}
	now := s.now()
	id, err := s.store.RecordSignup(ctx, name, now)
	if err != nil {
		return forget, s.storeError(err)
	}
	forget = func() {
		if err := s.store.ForgetSignup(context.WithoutCancel(ctx), id); err != nil {
			s.log.Error(err, "forgetting a sign-up that created nothing")
		}
	}
	hourAgo := now.Add(-time.Hour)
	n, oldest, err := s.store.SignupsSince(ctx, hourAgo)
	if err != nil {
		forget()
		return func() {}, s.storeError(err)
	}
	if n > s.cfg.SignupMaxPerHour {
		forget()
		return func() {}, errTooManyRequests("too many sign-ups in the last hour; retry later", oldest.Sub(hourAgo))
	}
	return forget, nil
}

// createSignupSecret creates <name>-signup holding the chosen password's
// argon2id hash, labelled for the organization and controlled by it. An
// existing Secret of that name is a 409: it is never overwritten.
func (s *Server) createSignupSecret(ctx context.Context, org *tenancyv1alpha1.Organization, hash string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.cfg.CredentialsNamespace, Name: tenancyv1alpha1.SignupSecretName(org.Name),
			Labels: map[string]string{tenancyv1alpha1.LabelManagedBy: tenancyv1alpha1.ManagedBy, tenancyv1alpha1.LabelOrganization: org.Name}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{tenancyv1alpha1.SecretKeyPasswordHash: []byte(hash)},
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
