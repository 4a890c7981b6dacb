package restapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/tokens"
)

// LoginInput is the body of POST /v1/auth/login.
type LoginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"3" maxLength:"254" pattern:"^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" doc:"The admin's email" example:"admin@acme.example"`
		Password string `json:"password" minLength:"1" maxLength:"128" doc:"The admin's password"`
	}
}

// TokenPair is what login and refresh return.
type TokenPair struct {
	AccessToken  string `json:"access_token" maxLength:"2048" pattern:"^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$" doc:"JWT access token (EdDSA, typ at+jwt)"`
	TokenType    string `json:"token_type" enum:"Bearer" doc:"Always Bearer"`
	ExpiresIn    int    `json:"expires_in" minimum:"60" maximum:"86400" doc:"Access token lifetime in seconds"`
	RefreshToken string `json:"refresh_token" maxLength:"256" pattern:"^[0-9a-f]{32}\\.[A-Za-z0-9_-]{43,}$" doc:"Opaque, single-use refresh token"`
	Organization string `json:"organization" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization the tokens act for"`
}

// TokenOutput wraps a TokenPair.
type TokenOutput struct {
	Body TokenPair
}

// RefreshInput is the body of POST /v1/auth/refresh.
type RefreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"256" pattern:"^[0-9a-f]{32}\\.[A-Za-z0-9_-]{43,}$" doc:"The refresh token from login or the last refresh"`
	}
}

// AuthHeader carries the Bearer access token.
type AuthHeader struct {
	Authorization string `header:"Authorization" maxLength:"4096" doc:"Bearer <access token>; anything else is a 401"`
}

func (s *Server) registerAuth() {
	register(s, huma.Operation{
		OperationID: opLogin, Method: http.MethodPost, Path: "/v1/auth/login", Tags: []string{tagAuth},
		Summary:      "Log in as an organization's admin",
		Description:  "Wrong email and wrong password give the same 401. Repeated failures lock the account for a growing time (429 with Retry-After); so does a saturated password hasher.",
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		Errors:       []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.login)
	register(s, huma.Operation{
		OperationID: opRefresh, Method: http.MethodPost, Path: "/v1/auth/refresh", Tags: []string{tagAuth},
		Summary: "Exchange a refresh token for a new token pair",
		Description: "The refresh token is single-use. Presenting one that was already used revokes its whole session " +
			"(RFC 9700 4.14.2): of two concurrent refreshes of the same token, one succeeds and the other is reuse, " +
			"so the session ends and both callers must log in again.",
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		Errors:       []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, s.refresh)
	register(s, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/v1/auth/logout", Tags: []string{tagAuth},
		Summary:       "Log out: the access token and its refresh family stop working",
		Description:   "Revokes the session of the access token: the token, and every refresh token of the session, are refused from now on.",
		DefaultStatus: http.StatusNoContent, Security: bearer,
		Errors: []int{http.StatusUnauthorized, http.StatusServiceUnavailable},
	}, s.logout)
}

func (s *Server) login(ctx context.Context, in *LoginInput) (*TokenOutput, error) {
	email := mongostore.NormalizeEmail(in.Body.Email)
	failed, err := s.checkLockout(ctx, email)
	if err != nil {
		return nil, err
	}
	release, ok := s.slots.TryAcquire()
	if !ok {
		s.metrics.logins.WithLabelValues(loginThrottled).Inc()
		return nil, errTooManyRequests("the server is busy verifying passwords; retry shortly", time.Second)
	}
	admin, err := s.store.GetAdminByEmail(ctx, email)
	if err != nil {
		release()
		return nil, s.storeError(err)
	}
	hash := s.dummyHash
	if admin != nil {
		hash = admin.PasswordHash
	}
	match, _ := password.Verify(in.Body.Password, hash)
	if !password.Costly(hash) {
		// A generated password's hash is cheap to check: spend the same
		// argon2id work as any other login, so timing tells nothing.
		_, _ = password.Verify(in.Body.Password, s.dummyHash)
	}
	release()
	if !match || admin == nil {
		return nil, s.loginFailed(ctx, email)
	}
	org, err := s.liveOrganization(ctx, admin.Organization)
	if err != nil {
		return nil, err
	}
	if org == nil {
		return nil, s.loginFailed(ctx, email)
	}
	if failed { // forget earlier failures; no write when there were none
		if err := s.forgetFailures(ctx, email); err != nil {
			return nil, err
		}
	}
	sid, err := tokens.NewSessionID()
	if err != nil {
		return nil, err
	}
	refresh, refreshHash, err := tokens.NewRefreshToken(sid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.store.CreateSession(ctx, mongostore.Session{
		ID: sid, Organization: admin.Organization, AdminID: admin.ID, CredentialsVersion: admin.CredentialsVersion,
		RefreshHash: refreshHash, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL),
	})
	if err != nil {
		return nil, s.storeError(err)
	}
	if err := s.recheckAdmin(ctx, admin, sid); err != nil {
		return nil, err
	}
	s.metrics.logins.WithLabelValues(loginSuccess).Inc()
	return s.tokenPair(ctx, admin, sid, refresh)
}

// recheckAdmin reads the admin record again once a login's session exists:
// if the credentials changed meanwhile (the controller ends sessions before
// and after such a change, and this session may have been opened between
// the two), the session is deleted and the login refused. Authentication
// reads only the session, so no session may outlive its credentials.
func (s *Server) recheckAdmin(ctx context.Context, admin *mongostore.Admin, sid string) error {
	now, err := s.store.GetAdmin(ctx, admin.Organization)
	if err != nil {
		return s.storeError(err)
	}
	if now != nil && now.ID == admin.ID && now.CredentialsVersion == admin.CredentialsVersion {
		return nil
	}
	if err := s.store.RevokeSession(ctx, sid); err != nil {
		return s.storeError(err)
	}
	s.log.V(1).Info("login refused: the credentials changed while it was checked", "organization", admin.Organization)
	return errUnauthenticated()
}

func (s *Server) refresh(ctx context.Context, in *RefreshInput) (*TokenOutput, error) {
	sid, oldHash, err := tokens.ParseRefreshToken(in.Body.RefreshToken)
	if err != nil {
		return nil, errBadRefreshToken()
	}
	next, nextHash, err := tokens.NewRefreshToken(sid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	res, sess, err := s.store.RotateRefresh(ctx, sid, oldHash, nextHash, now, now.Add(s.cfg.RefreshTokenTTL))
	if err != nil {
		return nil, s.storeError(err)
	}
	switch res {
	case mongostore.Reused:
		s.log.Info("refresh token reused: session revoked", "organization", sess.Organization, "session", sid)
		return nil, errBadRefreshToken()
	case mongostore.Invalid:
		return nil, errBadRefreshToken()
	}
	admin, err := s.store.GetAdmin(ctx, sess.Organization)
	if err != nil {
		return nil, s.storeError(err)
	}
	org, err := s.liveOrganization(ctx, sess.Organization)
	if err != nil {
		return nil, err
	}
	if org == nil || admin == nil || admin.ID != sess.AdminID || admin.CredentialsVersion != sess.CredentialsVersion || s.tooOld(sess) {
		s.log.Info("session ended: credentials changed or session too old", "organization", sess.Organization, "session", sid)
		if err := s.store.RevokeSession(ctx, sid); err != nil {
			return nil, s.storeError(err)
		}
		return nil, errBadRefreshToken()
	}
	return s.tokenPair(ctx, admin, sid, next)
}

func (s *Server) tokenPair(ctx context.Context, admin *mongostore.Admin, sid, refresh string) (*TokenOutput, error) {
	ks, err := s.keys.Keys(ctx)
	if err != nil {
		s.log.Error(err, "reading signing keys")
		return nil, errUnavailable()
	}
	access, ttl, err := s.issuer.Issue(ks, admin.ID, admin.Organization, sid, admin.CredentialsVersion)
	if err != nil {
		return nil, err
	}
	return &TokenOutput{Body: TokenPair{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(ttl.Seconds()),
		RefreshToken: refresh, Organization: admin.Organization}}, nil
}

func (s *Server) logout(ctx context.Context, in *AuthHeader) (*struct{}, error) {
	p, err := s.authenticate(ctx, in.Authorization)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeSession(ctx, p.claims.SessionID); err != nil {
		return nil, s.storeError(err)
	}
	return nil, nil
}

// loginFailed counts the failure (for unknown emails too, so lockouts do not
// reveal which emails exist) and answers the generic 401.
func (s *Server) loginFailed(ctx context.Context, email string) error {
	s.metrics.logins.WithLabelValues(loginFailure).Inc()
	if err := s.recordFailure(ctx, email); err != nil {
		return err
	}
	return errBadCredentials()
}
