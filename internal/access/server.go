package access

import (
	"context"
	"errors"
	"fmt"
	"sync"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Store is what application access needs from MongoDB: users and custom
// roles of the tenant database. Every method is idempotent and runs under
// its own timeout; *mongostore.Store implements it.
type Store interface {
	// Database is the tenant database, where the users and roles live.
	Database() string
	// AccessCapabilities asks the server whether it has users and roles.
	AccessCapabilities(ctx context.Context) (mongostore.AccessCapabilities, error)
	// EnsureRole creates or updates a role to the given privileges.
	EnsureRole(ctx context.Context, r mongostore.Role) error
	// DropRole drops a role when present.
	DropRole(ctx context.Context, name string) (bool, error)
	// Roles lists the roles whose names start with prefix.
	Roles(ctx context.Context, prefix string) ([]mongostore.Role, error)
	// SetUser creates a user, or sets its password and roles.
	SetUser(ctx context.Context, name, password string, roles []string) error
	// GrantRoles sets an existing user's roles.
	GrantRoles(ctx context.Context, name string, roles []string) error
	// DropUser drops a user when present.
	DropUser(ctx context.Context, name string) (bool, error)
	// Users lists the users whose names start with prefix.
	Users(ctx context.Context, prefix string) ([]string, error)
}

var _ Store = (*mongostore.Store)(nil)

// Mode is --access-roles: what to do on a server without custom roles.
type Mode string

const (
	// ModeAuto uses roles where the server has them; elsewhere users are
	// created without one and isolation is NotEnforced.
	ModeAuto Mode = "auto"
	// ModeRequired refuses every access (Stalled RolesUnsupported) on a
	// server without roles.
	ModeRequired Mode = "required"
	// ModeDisabled turns application access off: every OrganizationAccess
	// is Stalled (AccessDisabled) and nothing is written to MongoDB.
	ModeDisabled Mode = "disabled"
)

// ParseMode checks a --access-roles value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeRequired, ModeDisabled:
		return m, nil
	}
	return "", fmt.Errorf("--access-roles must be auto, required or disabled, got %q", s)
}

// Server is the MongoDB deployment that holds a tenant's users, with what
// it offers learnt once (the first time it can be asked) and kept.
type Server struct {
	Store Store
	Mode  Mode

	mu    sync.Mutex
	caps  *mongostore.AccessCapabilities
	known map[string]mongostore.Role // roles as last written or read
}

// NewServer wraps store for application access in mode.
func NewServer(store Store, mode Mode) *Server {
	return &Server{Store: store, Mode: mode, known: map[string]mongostore.Role{}}
}

// Capabilities asks the server once what it offers; an unreachable server
// is an error (asked again next time), never a guess.
func (s *Server) Capabilities(ctx context.Context) (mongostore.AccessCapabilities, error) {
	s.mu.Lock()
	if s.caps != nil {
		defer s.mu.Unlock()
		return *s.caps, nil
	}
	s.mu.Unlock()
	caps, err := s.Store.AccessCapabilities(ctx)
	if err != nil {
		return caps, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caps = &caps
	return caps, nil
}

// rolesInUse reports whether roles are written: mode auto or required on a
// server that has them.
func (s *Server) rolesInUse(ctx context.Context) (bool, error) {
	if s == nil || s.Mode == ModeDisabled {
		return false, nil
	}
	caps, err := s.Capabilities(ctx)
	if err != nil {
		return false, err
	}
	return caps.Roles, nil
}

// SyncRoles makes org's two roles grant what its status says (Roles): at
// its location, read-only while it moves. It writes only roles that differ
// from what was last written or read, and nothing when roles are not in
// use or the organization allows no namespace.
func (s *Server) SyncRoles(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	if s == nil || org.Spec.Access == nil {
		return nil
	}
	inUse, err := s.rolesInUse(ctx)
	if err != nil || !inUse {
		return err
	}
	for _, r := range Roles(org) {
		s.mu.Lock()
		known, ok := s.known[r.Name]
		s.mu.Unlock()
		if ok && known.Equal(r) {
			continue
		}
		if err := s.Store.EnsureRole(ctx, r); err != nil {
			return err
		}
		s.mu.Lock()
		s.known[r.Name] = r
		s.mu.Unlock()
	}
	return nil
}

// Refresh replaces what is known of the roles with what the server holds
// (the resync's look), so that a role changed behind the operator's back is
// written again.
func (s *Server) Refresh(ctx context.Context) error {
	if s == nil {
		return nil
	}
	inUse, err := s.rolesInUse(ctx)
	if err != nil || !inUse {
		return err
	}
	roles, err := s.Store.Roles(ctx, tenancyv1alpha1.AccessUserPrefix)
	if err != nil {
		return err
	}
	known := make(map[string]mongostore.Role, len(roles))
	for _, r := range roles {
		known[r.Name] = r
	}
	s.mu.Lock()
	s.known = known
	s.mu.Unlock()
	return nil
}

// Drifted reports whether org's roles, as last written or read, differ
// from what its status calls for (false when roles are not in use).
func (s *Server) Drifted(org *tenancyv1alpha1.Organization) bool {
	if s == nil || s.Mode == ModeDisabled || org.Spec.Access == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.caps == nil || !s.caps.Roles {
		return false
	}
	for _, r := range Roles(org) {
		if known, ok := s.known[r.Name]; !ok || !known.Equal(r) {
			return true
		}
	}
	return false
}

// DropRoles drops an organization's two roles (its deletion). Its users
// are the accesses' own: each access drops them when it sees the
// organization go (and keeps them when it follows a rename).
func (s *Server) DropRoles(ctx context.Context, organization string) error {
	inUse, err := s.rolesInUse(ctx)
	if err != nil || !inUse {
		return err
	}
	var errs []error
	for _, kind := range []tenancyv1alpha1.AccessRole{tenancyv1alpha1.AccessRead, tenancyv1alpha1.AccessReadWrite} {
		name := RoleName(organization, kind)
		_, err := s.Store.DropRole(ctx, name)
		errs = append(errs, err)
		s.mu.Lock()
		delete(s.known, name)
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}
