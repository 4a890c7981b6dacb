package restapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NameInput selects one organization.
type NameInput struct {
	AuthHeader
	Name string `path:"name" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's name (your own)"`
}

// DeleteInput deletes one's own organization.
type DeleteInput struct {
	AuthHeader
	Name string `path:"name" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's name (your own)"`
	Body struct {
		CurrentPassword string `json:"currentPassword" minLength:"1" maxLength:"128" doc:"The admin's current password"`
	}
}

// OpenAPI tags, the security scheme and the path template operations share.
const (
	tagAuth                  = "auth"
	tagOrganizations         = "organizations"
	tagHealth                = "health"
	securityBearer           = "bearer"
	organizationPathTemplate = "/v1/organizations/{name}"
)

var bearer = []map[string][]string{{securityBearer: {}}}

func (s *Server) registerOrganizations() {
	register(s, huma.Operation{
		OperationID: "getOrganization", Method: http.MethodGet, Path: organizationPathTemplate, Tags: []string{tagOrganizations},
		Summary: "Read your organization", Security: bearer,
		Description: "Another organization's name answers exactly like a missing one (404).",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable},
	}, s.getOrganization)
	register(s, huma.Operation{
		OperationID: opPatchOrganization, Method: http.MethodPatch, Path: organizationPathTemplate, Tags: []string{tagOrganizations},
		Summary: "Rename your organization or change its display name, admin email or password", Security: bearer,
		Description: "Writes the Organization spec or the credentials Secret through the Kubernetes API. A 200 means the " +
			"change is in effect: after a password change the new password works and the old one and every earlier " +
			"token do not. A new name creates the Organization under that name taking over the data (spec.renamedFrom) " +
			"and deletes the old one; it answers when the new one is Ready, with its Location; every earlier token ends. " +
			"202 means it was accepted but did not take effect within the server's bound. The spec is written with server-side " +
			"apply (field manager org-operator-api) without force: a field the platform declares (in Git or with kubectl: another " +
			"field manager owns it) is a 409 naming that manager, and so is a rename of an organization the platform declares.",
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.patchOrganization)
	register(s, huma.Operation{
		OperationID: opDeleteOrganization, Method: http.MethodDelete, Path: organizationPathTemplate, Tags: []string{tagOrganizations},
		Summary: "Delete your organization", Security: bearer, DefaultStatus: http.StatusAccepted,
		Description: "Deletes the Organization through the Kubernetes API (its deletionPolicy applies); the body gives the current " +
			"password. Its tokens stop working at once. An organization the platform declares (in Git or with kubectl: another " +
			"field manager owns its spec) is deleted there, not here: 409.",
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.deleteOrganization)
	register(s, huma.Operation{
		OperationID: opSignup, Method: http.MethodPost, Path: "/v1/organizations", Tags: []string{tagOrganizations},
		Summary: "Create an organization (self-service sign-up)",
		Description: "Only when the server runs with --signup=open (otherwise 403), within the platform's caps (403 when the total is " +
			"reached, 429 when the hourly one is). The password is kept only as an argon2id hash. 201 when Ready within the server's " +
			"bound, else 202 with a Location to poll.",
		MaxBodyBytes: s.cfg.MaxBodyBytes, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.signup)
}

func (s *Server) getOrganization(ctx context.Context, in *NameInput) (*OrganizationOutput, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	return &OrganizationOutput{Status: http.StatusOK, Body: view(p.org)}, nil
}

func (s *Server) deleteOrganization(ctx context.Context, in *DeleteInput) (*struct{}, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	if err := s.writeLimited(ctx, p); err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, p, in.Body.CurrentPassword); err != nil {
		return nil, err
	}
	if err := s.refuseIfDeclaredElsewhere(ctx, p.org.Name, "delete"); err != nil {
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
