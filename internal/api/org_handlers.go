package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
)

// Condition is one status condition of an organization.
type Condition struct {
	Type               string    `json:"type" doc:"Ready, Reconciling or Stalled"`
	Status             string    `json:"status" enum:"True,False,Unknown"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Organization is the API's view of an Organization.
type Organization struct {
	Name        string `json:"name" doc:"The organization's id"`
	DisplayName string `json:"displayName"`
	AdminEmail  string `json:"adminEmail"`
	Tenancy     string `json:"tenancy" enum:"Dedicated,Shared"`
	Database    string `json:"database" doc:"MongoDB database of the tenant's collection"`
	Collection  string `json:"collection" doc:"MongoDB collection holding the tenant's documents"`
	// DocumentFilter scopes queries in a shared collection.
	DocumentFilter string      `json:"documentFilter,omitempty" doc:"For a Shared organization, the filter that scopes queries to its documents, e.g. {\"organization\":\"acme\"}"`
	Ready          bool        `json:"ready"`
	Conditions     []Condition `json:"conditions"`
	CreatedAt      time.Time   `json:"createdAt"`
}

// OrganizationOutput is an organization, with a Location when the change is
// accepted but not yet in effect.
type OrganizationOutput struct {
	Status   int
	Location string `header:"Location" doc:"Where to poll when the answer is 202"`
	Body     Organization
}

// NameInput selects one organization.
type NameInput struct {
	AuthHeader
	Name string `path:"name" maxLength:"63" doc:"The organization's name (your own)"`
}

// PatchInput changes one's own organization.
type PatchInput struct {
	AuthHeader
	Name string `path:"name" maxLength:"63" doc:"The organization's name (your own)"`
	Body struct {
		Name        *string `json:"name,omitempty" minLength:"1" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"New name: the organization is renamed (its data, admin account and password move to the new name); log in again afterwards"`
		DisplayName *string `json:"displayName,omitempty" maxLength:"200" doc:"New display name"`
		AdminEmail  *string `json:"adminEmail,omitempty" format:"email" maxLength:"254" doc:"New admin email (the login name)"`
		Password    *string `json:"password,omitempty" minLength:"12" maxLength:"128" doc:"New admin password; ends every earlier session"`
	}
}

// SignupInput creates an organization (only with --signup=open).
type SignupInput struct {
	Body struct {
		Name        string `json:"name" minLength:"1" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's id: a DNS-1123 label"`
		DisplayName string `json:"displayName,omitempty" maxLength:"200"`
		AdminEmail  string `json:"adminEmail" format:"email" maxLength:"254"`
		Password    string `json:"password" minLength:"12" maxLength:"128"`
	}
}

var bearer = []map[string][]string{{"bearer": {}}}

func (s *Server) registerOrganizations() {
	huma.Register(s.api, huma.Operation{
		OperationID: "getOrganization", Method: http.MethodGet, Path: "/v1/organizations/{name}", Tags: []string{"organizations"},
		Summary: "Read your organization", Security: bearer,
		Description: "Another organization's name answers exactly like a missing one (404).",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable},
	}, s.getOrganization)
	huma.Register(s.api, huma.Operation{
		OperationID: "patchOrganization", Method: http.MethodPatch, Path: "/v1/organizations/{name}", Tags: []string{"organizations"},
		Summary: "Rename your organization or change its display name, admin email or password", Security: bearer,
		Description: "Writes the Organization spec or the credentials Secret through the Kubernetes API. A 200 means the " +
			"change is in effect: after a password change the new password works and the old one and every earlier " +
			"token do not. A new name creates the Organization under that name taking over the data (spec.renamedFrom) " +
			"and deletes the old one; it answers when the new one is Ready, with its Location; every earlier token ends. " +
			"202 means it was accepted but did not take effect within the server's bound.",
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable},
	}, s.patchOrganization)
	huma.Register(s.api, huma.Operation{
		OperationID: "deleteOrganization", Method: http.MethodDelete, Path: "/v1/organizations/{name}", Tags: []string{"organizations"},
		Summary: "Delete your organization", Security: bearer, DefaultStatus: http.StatusAccepted,
		Description: "Deletes the Organization through the Kubernetes API (its deletionPolicy applies). Its tokens stop working at once.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable},
	}, s.deleteOrganization)
	huma.Register(s.api, huma.Operation{
		OperationID: "signup", Method: http.MethodPost, Path: "/v1/organizations", Tags: []string{"organizations"},
		Summary:      "Create an organization (self-service sign-up)",
		Description:  "Only when the server runs with --signup=open (otherwise 403). 201 when Ready within the server's bound, else 202 with a Location to poll.",
		MaxBodyBytes: s.cfg.MaxBodyBytes, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.signup)
}

func view(org *tenancyv1alpha1.Organization) Organization {
	v := Organization{
		Name: org.Name, DisplayName: org.Spec.DisplayName, AdminEmail: org.Spec.Admin.Email, Tenancy: string(org.Spec.Tenancy),
		Database: org.Status.Database, Collection: org.Status.Collection, DocumentFilter: org.Status.DocumentFilter,
		CreatedAt:  org.CreationTimestamp.UTC(),
		Ready:      isReady(org),
		Conditions: make([]Condition, 0, len(org.Status.Conditions)),
	}
	for _, c := range org.Status.Conditions {
		v.Conditions = append(v.Conditions, Condition{Type: c.Type, Status: string(c.Status), Reason: c.Reason,
			Message: c.Message, LastTransitionTime: c.LastTransitionTime.UTC()})
	}
	return v
}

// isReady is true when the current generation is reconciled and Ready.
func isReady(org *tenancyv1alpha1.Organization) bool {
	return org.Status.ObservedGeneration == org.Generation &&
		meta.IsStatusConditionTrue(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
}

func (s *Server) getOrganization(ctx context.Context, in *NameInput) (*OrganizationOutput, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	return &OrganizationOutput{Status: http.StatusOK, Body: view(p.org)}, nil
}

func (s *Server) patchOrganization(ctx context.Context, in *PatchInput) (*OrganizationOutput, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	b := in.Body
	if b.Name == nil && b.DisplayName == nil && b.AdminEmail == nil && b.Password == nil {
		return nil, huma.Error400BadRequest("nothing to change: give name, displayName, adminEmail or password")
	}
	if b.Name != nil && *b.Name != p.org.Name && b.Password != nil {
		return nil, huma.Error400BadRequest("change the name and the password in separate requests")
	}
	desired := p.org.DeepCopy()
	if b.DisplayName != nil {
		desired.Spec.DisplayName = *b.DisplayName
	}
	if b.AdminEmail != nil && mongostore.NormalizeEmail(*b.AdminEmail) != mongostore.NormalizeEmail(p.org.Spec.Admin.Email) {
		if err := s.store.CheckEmailFree(ctx, *b.AdminEmail, p.org.Name); errors.Is(err, mongostore.ErrEmailInUse) {
			return nil, huma.Error409Conflict("that email is already used by another organization's admin")
		} else if err != nil {
			return nil, s.storeError(err)
		}
		desired.Spec.Admin.Email = *b.AdminEmail
	}
	if b.Name != nil && *b.Name != p.org.Name {
		return s.rename(ctx, p, desired, *b.Name)
	}
	newPassword := ""
	if b.Password != nil {
		if same, _ := password.Verify(*b.Password, p.admin.PasswordHash); !same {
			newPassword = *b.Password
		}
	}
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
		if !reconciledAt(generation)(org) {
			return false
		}
		if newPassword == "" {
			return true
		}
		admin, err := s.store.GetAdmin(ctx, org.Name) // rehashed by the controller?
		return err == nil && admin != nil && admin.PasswordHash != p.admin.PasswordHash
	})
	if org == nil {
		return nil, errOrgNotFound()
	}
	if !done {
		return &OrganizationOutput{Status: http.StatusAccepted, Location: "/v1/organizations/" + org.Name, Body: view(org)}, nil
	}
	return &OrganizationOutput{Status: http.StatusOK, Body: view(org)}, nil
}

// rename creates the Organization newName with spec.renamedFrom and the
// (possibly patched) spec, deletes the old one (its finalizer waits for the
// take-over), ends the old sessions, and answers when the new organization is
// Ready with the data moved (202 with a Location after the bound).
func (s *Server) rename(ctx context.Context, p *principal, desired *tenancyv1alpha1.Organization, newName string) (*OrganizationOutput, error) {
	if existing, err := s.liveOrganization(ctx, newName); err != nil {
		return nil, err
	} else if existing != nil {
		return nil, errNameTaken()
	}
	next := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: newName, Labels: p.org.Labels}, Spec: desired.Spec}
	next.Spec.RenamedFrom = p.org.Name
	next.Spec.Admin.PasswordSecretRef = nil // the password moves into <new>-admin
	if err := s.client.Create(ctx, next); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errNameTaken()
		}
		return nil, s.kubeError(err)
	}
	if err := s.client.Delete(ctx, p.org, client.Preconditions{UID: &p.org.UID}); err != nil && !apierrors.IsNotFound(err) {
		return nil, s.kubeError(err)
	}
	if err := s.store.RevokeOrganizationSessions(ctx, p.org.Name); err != nil {
		return nil, s.storeError(err)
	}
	location := "/v1/organizations/" + newName
	org, done := s.waitFor(ctx, newName, func(org *tenancyv1alpha1.Organization) bool {
		return isReady(org) && org.Status.RenamedFrom == p.org.Name
	})
	if org == nil {
		org = next
	}
	status := http.StatusOK
	if !done {
		status = http.StatusAccepted
	}
	return &OrganizationOutput{Status: status, Location: location, Body: view(org)}, nil
}

func equalSpec(a, b *tenancyv1alpha1.Organization) bool {
	return a.Spec.DisplayName == b.Spec.DisplayName && a.Spec.Admin.Email == b.Spec.Admin.Email
}

// writePassword stores a new password in the organization's credentials
// Secret (the one it references, or the operator-owned <name>-admin); the
// controller then rehashes it and increases credentialsVersion.
func (s *Server) writePassword(ctx context.Context, org *tenancyv1alpha1.Organization, newPassword string) error {
	name, key := controller.PasswordSource(org)
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

// waitFor polls the cache until done holds for the organization, or the
// change timeout passes. An organization not visible yet (just created) is
// waited for too. It returns the latest organization (nil when not found)
// and whether done held.
func (s *Server) waitFor(ctx context.Context, name string, done func(*tenancyv1alpha1.Organization) bool) (*tenancyv1alpha1.Organization, bool) {
	deadline := time.Now().Add(s.cfg.ChangeTimeout)
	for {
		org, err := s.liveOrganization(ctx, name)
		if err == nil && org != nil && done(org) {
			return org, true
		}
		if time.Now().After(deadline) {
			return org, false
		}
		select {
		case <-ctx.Done():
			return org, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// reconciledAt reports whether the controller has made generation Ready.
func reconciledAt(generation int64) func(*tenancyv1alpha1.Organization) bool {
	return func(org *tenancyv1alpha1.Organization) bool {
		return org.Status.ObservedGeneration >= generation && isReady(org)
	}
}

func (s *Server) deleteOrganization(ctx context.Context, in *NameInput) (*struct{}, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	// Revoke first, so no token of the organization works once we answer.
	if err := s.store.RevokeOrganizationSessions(ctx, p.org.Name); err != nil {
		return nil, s.storeError(err)
	}
	if err := s.client.Delete(ctx, p.org, client.Preconditions{UID: &p.org.UID}); err != nil && !apierrors.IsNotFound(err) {
		return nil, s.kubeError(err)
	}
	return nil, nil
}

// SignupSecretName is the Secret holding the password chosen at sign-up.
func SignupSecretName(organization string) string { return organization + "-signup" }

func (s *Server) signup(ctx context.Context, in *SignupInput) (*OrganizationOutput, error) {
	if err := s.rateLimited(ctx); err != nil {
		return nil, err
	}
	if s.cfg.Signup != SignupOpen {
		return nil, huma.Error403Forbidden("self-service sign-up is disabled on this server")
	}
	b := in.Body
	if existing, err := s.liveOrganization(ctx, b.Name); err != nil {
		return nil, err
	} else if existing != nil {
		return nil, errNameTaken()
	}
	if err := s.store.CheckEmailFree(ctx, b.AdminEmail, b.Name); errors.Is(err, mongostore.ErrEmailInUse) {
		return nil, huma.Error409Conflict("that email is already used by another organization's admin")
	} else if err != nil {
		return nil, s.storeError(err)
	}
	secret, err := s.writeSignupSecret(ctx, b.Name, b.Password)
	if err != nil {
		return nil, err
	}
	org := &tenancyv1alpha1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: b.Name},
		Spec: tenancyv1alpha1.OrganizationSpec{DisplayName: b.DisplayName, Admin: tenancyv1alpha1.AdminSpec{
			Email: b.AdminEmail, PasswordSecretRef: &tenancyv1alpha1.SecretKeyRef{Name: secret.Name, Key: controller.SecretKeyPassword}}},
	}
	if err := s.client.Create(ctx, org); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errNameTaken()
		}
		return nil, s.kubeError(err)
	}
	// The Secret goes with the Organization.
	owned := secret.DeepCopy()
	if err := controllerutil.SetControllerReference(org, owned, s.client.Scheme()); err == nil {
		_ = s.client.Patch(ctx, owned, client.MergeFrom(secret))
	}
	got, done := s.waitFor(ctx, org.Name, reconciledAt(org.Generation))
	if got == nil {
		got = org
	}
	out := &OrganizationOutput{Status: http.StatusCreated, Location: "/v1/organizations/" + org.Name, Body: view(got)}
	if !done {
		out.Status = http.StatusAccepted
	}
	return out, nil
}

func errNameTaken() error {
	return huma.Error409Conflict("an organization with that name already exists")
}

// writeSignupSecret stores the chosen password in <name>-signup. A leftover
// of an interrupted sign-up for the same name is reused.
func (s *Server) writeSignupSecret(ctx context.Context, name, pw string) (*corev1.Secret, error) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.cfg.CredentialsNamespace, Name: SignupSecretName(name),
			Labels: map[string]string{controller.LabelManagedBy: controller.ManagedBy, controller.LabelOrganization: name}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{controller.SecretKeyPassword: []byte(pw)},
	}
	err := s.client.Create(ctx, secret)
	if !apierrors.IsAlreadyExists(err) {
		return secret, s.kubeError(err)
	}
	existing := &corev1.Secret{}
	if err := s.client.Get(ctx, client.ObjectKeyFromObject(secret), existing); err != nil {
		return nil, s.kubeError(err)
	}
	if existing.Labels[controller.LabelOrganization] != name || len(existing.OwnerReferences) > 0 {
		return nil, errNameTaken()
	}
	updated := existing.DeepCopy()
	updated.Data = secret.Data
	if err := s.client.Patch(ctx, updated, client.MergeFromWithOptions(existing, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, s.kubeError(err)
	}
	return updated, nil
}

// kubeError maps a Kubernetes API error to a problem: validation failures are
// the client's 400, conflicts 409, anything else is logged and 503.
func (s *Server) kubeError(err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return huma.Error400BadRequest(fmt.Sprintf("rejected by the Organization schema: %s", apiMessage(err)))
	case apierrors.IsConflict(err):
		return huma.Error409Conflict("the organization changed concurrently; retry")
	case apierrors.IsNotFound(err):
		return errOrgNotFound()
	default:
		s.log.Error(err, "Kubernetes API call failed")
		return errUnavailable()
	}
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Message
	}
	return err.Error()
}
