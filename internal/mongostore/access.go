package mongostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Application access: MongoDB users of the tenants' applications and the
// custom roles that limit them. Users and roles live in the tenant
// database (the users' authSource). FerretDB v1 has users (with SCRAM,
// when it runs with authentication) but no roles: RolesSupported tells.

// Server error codes of the user and role commands.
const (
	codeUserNotFound      = 11
	codeRoleNotFound      = 31
	codeCommandNotFound   = 59
	codeRoleAlreadyExists = 51002
	codeUserAlreadyExists = 51003
)

// ErrRolesUnsupported is returned by the role operations of a server
// without custom roles (RolesSupported false).
var ErrRolesUnsupported = errors.New("the MongoDB server has no custom roles (createRole)")

// Privilege grants actions on one collection of the store's database.
type Privilege struct {
	Collection string   `bson:"collection"`
	Actions    []string `bson:"actions"`
}

// Role is a custom role of the store's database.
type Role struct {
	Name       string
	Privileges []Privilege
}

// Equal reports whether r and o grant the same actions on the same
// collections (order of privileges and actions aside).
func (r Role) Equal(o Role) bool {
	return r.Name == o.Name && slices.Equal(canonical(r.Privileges), canonical(o.Privileges))
}

// canonical renders privileges as sorted strings, for comparison.
func canonical(ps []Privilege) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		actions := slices.Clone(p.Actions)
		slices.Sort(actions)
		out = append(out, p.Collection+":"+strings.Join(actions, ","))
	}
	slices.Sort(out)
	return out
}

// fieldRoles is the roles field of the user and role commands.
const fieldRoles = "roles"

// grants is the roles field granting roles of database db.
func grants(db string, roles []string) bson.A {
	granted := make(bson.A, 0, len(roles))
	for _, r := range roles {
		granted = append(granted, bson.D{{Key: "role", Value: r}, {Key: "db", Value: db}})
	}
	return granted
}

// RoleCommand is the createRole (create) or updateRole command document
// that gives role r its privileges in database db, inheriting no role.
func RoleCommand(db string, r Role, create bool) bson.D {
	privileges := make(bson.A, 0, len(r.Privileges))
	for _, p := range r.Privileges {
		actions := make(bson.A, 0, len(p.Actions))
		for _, a := range p.Actions {
			actions = append(actions, a)
		}
		privileges = append(privileges, bson.D{
			{Key: "resource", Value: bson.D{{Key: "db", Value: db}, {Key: "collection", Value: p.Collection}}},
			{Key: "actions", Value: actions},
		})
	}
	verb := "updateRole"
	if create {
		verb = "createRole"
	}
	return bson.D{{Key: verb, Value: r.Name}, {Key: "privileges", Value: privileges}, {Key: fieldRoles, Value: bson.A{}}}
}

// UserCommand is the createUser (create) or updateUser command document
// that gives user name the password and the roles of database db.
func UserCommand(db, name, password string, roles []string, create bool) bson.D {
	granted := grants(db, roles)
	verb := "updateUser"
	if create {
		verb = "createUser"
	}
	return bson.D{{Key: verb, Value: name}, {Key: "pwd", Value: password}, {Key: fieldRoles, Value: granted},
		{Key: "mechanisms", Value: bson.A{"SCRAM-SHA-256"}}}
}

// AccessCapabilities says what a server offers application access: users
// (createUser and SCRAM; FerretDB v1 only with authentication on) and
// custom roles (createRole; not FerretDB v1).
type AccessCapabilities struct {
	Users, Roles bool
}

// AccessCapabilities asks the server (usersInfo and rolesInfo are known
// commands). It fails when the server cannot be asked.
func (s *Store) AccessCapabilities(ctx context.Context) (AccessCapabilities, error) {
	var caps AccessCapabilities
	for _, probe := range []struct {
		command string
		known   *bool
	}{{"usersInfo", &caps.Users}, {"rolesInfo", &caps.Roles}} {
		cctx, cancel := s.callContext(ctx)
		err := s.db.RunCommand(cctx, bson.D{{Key: probe.command, Value: 1}}).Err()
		cancel()
		switch {
		case err == nil:
			*probe.known = true
		case hasCode(err, codeCommandNotFound):
		default:
			return AccessCapabilities{}, wrap(probe.command, err)
		}
	}
	return caps, nil
}

// EnsureRole creates role r, or updates it to r's privileges when it
// exists. Idempotent.
func (s *Store) EnsureRole(ctx context.Context, r Role) error {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	err := s.db.RunCommand(cctx, RoleCommand(s.opts.Database, r, true)).Err()
	if err == nil {
		return nil
	}
	if !hasCode(err, codeRoleAlreadyExists) {
		return roleError("createRole "+r.Name, err)
	}
	uctx, ucancel := s.callContext(ctx)
	defer ucancel()
	return roleError("updateRole "+r.Name, s.db.RunCommand(uctx, RoleCommand(s.opts.Database, r, false)).Err())
}

// DropRole drops role name and reports whether it existed.
func (s *Store) DropRole(ctx context.Context, name string) (bool, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	err := s.db.RunCommand(ctx, bson.D{{Key: "dropRole", Value: name}}).Err()
	if hasCode(err, codeRoleNotFound) {
		return false, nil
	}
	return err == nil, roleError("dropRole "+name, err)
}

// Roles lists the custom roles of the database whose names start with
// prefix, with their privileges on its collections.
func (s *Store) Roles(ctx context.Context, prefix string) ([]Role, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var out struct {
		Roles []struct {
			Role       string `bson:"role"`
			Privileges []struct {
				Resource struct {
					Collection string `bson:"collection"`
				} `bson:"resource"`
				Actions []string `bson:"actions"`
			} `bson:"privileges"`
		} `bson:"roles"`
	}
	cmd := bson.D{{Key: "rolesInfo", Value: 1}, {Key: "showPrivileges", Value: true}}
	if err := s.db.RunCommand(ctx, cmd).Decode(&out); err != nil {
		return nil, roleError("rolesInfo", err)
	}
	var roles []Role
	for _, r := range out.Roles {
		if !strings.HasPrefix(r.Role, prefix) {
			continue
		}
		role := Role{Name: r.Role}
		for _, p := range r.Privileges {
			role.Privileges = append(role.Privileges, Privilege{Collection: p.Resource.Collection, Actions: p.Actions})
		}
		roles = append(roles, role)
	}
	return roles, nil
}

// roleError marks a server without roles with ErrRolesUnsupported.
func roleError(op string, err error) error {
	if hasCode(err, codeCommandNotFound) {
		return fmt.Errorf("%s: %w", op, ErrRolesUnsupported)
	}
	return wrap(op, err)
}

// SetUser creates user name with password and roles, or, when it exists,
// sets its password and roles. Idempotent.
func (s *Store) SetUser(ctx context.Context, name, password string, roles []string) error {
	uctx, cancel := s.callContext(ctx)
	defer cancel()
	err := s.db.RunCommand(uctx, UserCommand(s.opts.Database, name, password, roles, false)).Err()
	if err == nil {
		return nil
	}
	if !hasCode(err, codeUserNotFound) {
		return wrap("updateUser "+name, err)
	}
	cctx, ccancel := s.callContext(ctx)
	defer ccancel()
	err = s.db.RunCommand(cctx, UserCommand(s.opts.Database, name, password, roles, true)).Err()
	if hasCode(err, codeUserAlreadyExists) { // created meanwhile: set it again
		return s.SetUser(ctx, name, password, roles)
	}
	return wrap("createUser "+name, err)
}

// GrantRoles sets the roles of the existing user name (its password stays).
func (s *Store) GrantRoles(ctx context.Context, name string, roles []string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	cmd := bson.D{{Key: "updateUser", Value: name}, {Key: fieldRoles, Value: grants(s.opts.Database, roles)}}
	return wrap("updateUser "+name, s.db.RunCommand(ctx, cmd).Err())
}

// DropUser drops user name and reports whether it existed.
func (s *Store) DropUser(ctx context.Context, name string) (bool, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	err := s.db.RunCommand(ctx, bson.D{{Key: "dropUser", Value: name}}).Err()
	if hasCode(err, codeUserNotFound) {
		return false, nil
	}
	return err == nil, wrap("dropUser "+name, err)
}

// Users lists the users of the database whose names start with prefix
// (usersInfo; FerretDB v1 takes no filter, so the prefix is applied here).
func (s *Store) Users(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var out struct {
		Users []struct {
			User string `bson:"user"`
		} `bson:"users"`
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "usersInfo", Value: 1}}).Decode(&out); err != nil {
		return nil, wrap("usersInfo", err)
	}
	var names []string
	for _, u := range out.Users {
		if strings.HasPrefix(u.User, prefix) {
			names = append(names, u.User)
		}
	}
	slices.Sort(names)
	return names, nil
}
