package restapi

import (
	"context"
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/tokens"
)

// principal is an authenticated tenant admin.
type principal struct {
	claims *tokens.Claims
	org    *tenancyv1alpha1.Organization
}

// authenticate checks a Bearer access token: signature, algorithm, key,
// issuer, audience, type and times (tokens.Issuer.Verify), then that its
// organization exists and is not being deleted (from the cache), and that
// its session exists and was opened for the token's subject and credentials
// version: one store read. The admin record is not read: whatever ends an
// admin's credentials ends the organization's sessions (a password change,
// a recreated or deleted admin record, a rename: the controller and
// mongostore delete them before and after the write), and a login re-checks
// the record after opening its session. Every failure is the same 401; the
// reason is logged at debug level.
func (s *Server) authenticate(ctx context.Context, header string) (*principal, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || raw == "" {
		return nil, errUnauthenticated()
	}
	ks, err := s.keys.Keys(ctx)
	if err != nil {
		s.log.Error(err, "reading signing keys")
		return nil, errUnavailable()
	}
	claims, err := s.issuer.Verify(ks, raw)
	if errors.Is(err, tokens.ErrUnknownKey) {
		// Another replica may have rotated the keys before this one's
		// cache saw it: read the Secret itself, once.
		if fresh, rerr := s.keys.Reread(ctx, s.now()); rerr == nil {
			claims, err = s.issuer.Verify(fresh, raw)
		}
	}
	if err != nil {
		s.log.V(1).Info("access token refused", "reason", err.Error())
		return nil, errUnauthenticated()
	}
	org, err := s.liveOrganization(ctx, claims.Organization)
	if err != nil {
		return nil, err
	}
	if org == nil {
		return nil, s.refuse("organization gone or being deleted", claims)
	}
	sess, err := s.store.GetSession(ctx, claims.SessionID)
	if err != nil {
		return nil, s.storeError(err)
	}
	if sess == nil || sess.Organization != claims.Organization {
		return nil, s.refuse("session revoked or unknown", claims)
	}
	if s.tooOld(sess) {
		return nil, s.refuse("session older than --api-session-max-age", claims)
	}
	if sess.AdminID != claims.Subject || sess.CredentialsVersion != claims.CredentialsVersion {
		return nil, s.refuse("token not issued for this session's credentials", claims)
	}
	return &principal{claims: claims, org: org}, nil
}

// currentAdmin reads the principal's admin record, for the changes that
// check the current password: 401 when the record no longer carries the
// token's subject and credentials version.
func (s *Server) currentAdmin(ctx context.Context, p *principal) (*mongostore.Admin, error) {
	admin, err := s.store.GetAdmin(ctx, p.claims.Organization)
	if err != nil {
		return nil, s.storeError(err)
	}
	if admin == nil || admin.ID != p.claims.Subject || admin.CredentialsVersion != p.claims.CredentialsVersion {
		return nil, s.refuse("credentials changed", p.claims)
	}
	return admin, nil
}

func (s *Server) refuse(reason string, c *tokens.Claims) error {
	s.log.V(1).Info("access token refused", "reason", reason, "organization", c.Organization, "jti", c.ID)
	return errUnauthenticated()
}

// tooOld reports whether a session has outlived --api-session-max-age,
// however often it was refreshed.
func (s *Server) tooOld(sess *mongostore.Session) bool {
	return s.now().After(sess.CreatedAt.Add(s.cfg.SessionMaxAge))
}

// liveOrganization reads an Organization from the cache; nil when it does
// not exist or is being deleted.
func (s *Server) liveOrganization(ctx context.Context, name string) (*tenancyv1alpha1.Organization, error) {
	org := &tenancyv1alpha1.Organization{}
	err := s.client.Get(ctx, client.ObjectKey{Name: name}, org)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		s.log.Error(err, "reading an organization from the cache")
		return nil, errUnavailable()
	}
	if !org.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	return org, nil
}

// ownOrganization authenticates and checks that name is the caller's own
// organization; another organization answers exactly like a missing one.
func (s *Server) ownOrganization(ctx context.Context, header, name string) (*principal, error) {
	p, err := s.authenticate(ctx, header)
	if err != nil {
		return nil, err
	}
	if p.org.Name != name {
		return nil, errOrgNotFound()
	}
	return p, nil
}

// storeError logs a MongoDB failure and answers 503.
func (s *Server) storeError(err error) error {
	s.log.Error(err, "MongoDB call failed")
	return errUnavailable()
}
