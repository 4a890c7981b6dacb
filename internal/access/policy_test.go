package access

import (
	"fmt"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestActions(t *testing.T) {
	dedicated, shared := Location{Collection: "org_acme"}, Location{Collection: "shared_tenants", Shared: true}
	for _, tc := range []struct {
		name      string
		kind      tenancyv1alpha1.AccessRole
		loc       Location
		migrating bool
		want      []string
	}{
		{"Read, Dedicated", tenancyv1alpha1.AccessRead, dedicated, false,
			[]string{"changeStream", "collStats", "find", "listIndexes"}},
		{"ReadWrite, Dedicated: documents and the collection's own indexes", tenancyv1alpha1.AccessReadWrite, dedicated, false,
			[]string{"changeStream", "collStats", "createIndex", "dropIndex", "find", "insert", "listIndexes", "remove", "update"}},
		{"ReadWrite, Shared: no index of everyone's collection", tenancyv1alpha1.AccessReadWrite, shared, false,
			[]string{"changeStream", "collStats", "find", "insert", "listIndexes", "remove", "update"}},
		{"ReadWrite while a move runs: read only", tenancyv1alpha1.AccessReadWrite, dedicated, true,
			[]string{"changeStream", "collStats", "find", "listIndexes"}},
		{"ReadWrite, Shared, moving: read only", tenancyv1alpha1.AccessReadWrite, shared, true,
			[]string{"changeStream", "collStats", "find", "listIndexes"}},
		{"Read while a move runs", tenancyv1alpha1.AccessRead, shared, true,
			[]string{"changeStream", "collStats", "find", "listIndexes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Actions(tc.kind, tc.loc, tc.migrating); !slices.Equal(got, tc.want) {
				t.Fatalf("Actions = %v, want %v", got, tc.want)
			}
		})
	}
}

// orgAt is an organization whose status places it in collection (Shared
// when filtered), moving when migrating.
func orgAt(name, collection string, filtered, migrating bool) *tenancyv1alpha1.Organization {
	org := &tenancyv1alpha1.Organization{}
	org.Name = name
	org.Status.Database, org.Status.Collection = "orgs", collection
	if filtered {
		org.Status.DocumentFilter = fmt.Sprintf(`{"organization":%q}`, name)
	}
	if migrating {
		org.Status.Migration = &tenancyv1alpha1.MigrationStatus{Phase: tenancyv1alpha1.MigrationCopying}
	}
	return org
}

// The exact command documents, per role, per tenancy, during a move and
// after a rename, against the privilege list in policy.go.
func TestRoleCommands(t *testing.T) {
	doc := func(verb, role, collection string, actions ...string) string {
		a := make(bson.A, 0, len(actions))
		for _, x := range actions {
			a = append(a, x)
		}
		d := bson.D{{Key: verb, Value: role}, {Key: "privileges", Value: bson.A{bson.D{
			{Key: "resource", Value: bson.D{{Key: "db", Value: "orgs"}, {Key: "collection", Value: collection}}},
			{Key: "actions", Value: a}}}}, {Key: "roles", Value: bson.A{}}}
		b, _ := bson.MarshalExtJSON(d, false, false)
		return string(b)
	}
	read := []string{"changeStream", "collStats", "find", "listIndexes"}
	write := []string{"changeStream", "collStats", "createIndex", "dropIndex", "find", "insert", "listIndexes", "remove", "update"}
	sharedWrite := []string{"changeStream", "collStats", "find", "insert", "listIndexes", "remove", "update"}
	for _, tc := range []struct {
		name   string
		org    *tenancyv1alpha1.Organization
		create bool
		want   []string // Read's, then ReadWrite's
	}{
		{"Dedicated", orgAt("acme", "org_acme", false, false), true,
			[]string{doc("createRole", "oa.acme.read", "org_acme", read...), doc("createRole", "oa.acme.readWrite", "org_acme", write...)}},
		{"Shared", orgAt("acme", "shared_tenants", true, false), false,
			[]string{doc("updateRole", "oa.acme.read", "shared_tenants", read...),
				doc("updateRole", "oa.acme.readWrite", "shared_tenants", sharedWrite...)}},
		{"Dedicated, moving", orgAt("acme", "org_acme", false, true), false,
			[]string{doc("updateRole", "oa.acme.read", "org_acme", read...), doc("updateRole", "oa.acme.readWrite", "org_acme", read...)}},
		{"after a rename (acme -> globex)", orgAt("globex", "org_globex", false, false), true,
			[]string{doc("createRole", "oa.globex.read", "org_globex", read...),
				doc("createRole", "oa.globex.readWrite", "org_globex", write...)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles := Roles(tc.org)
			if len(roles) != 2 {
				t.Fatalf("%d roles, want 2", len(roles))
			}
			for i, r := range roles {
				b, err := bson.MarshalExtJSON(mongostore.RoleCommand("orgs", r, tc.create), false, false)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != tc.want[i] {
					t.Errorf("command\n got %s\nwant %s", b, tc.want[i])
				}
			}
		})
	}
	if Roles(orgAt("new", "", false, false)) != nil {
		t.Error("an organization without a location has no roles")
	}
}

func TestUserCommand(t *testing.T) {
	b, err := bson.MarshalExtJSON(mongostore.UserCommand("orgs", "oa.acme.u1.a", "pw", []string{"oa.acme.read"}, true), false, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"createUser":"oa.acme.u1.a","pwd":"pw","roles":[{"role":"oa.acme.read","db":"orgs"}],"mechanisms":["SCRAM-SHA-256"]}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

// FuzzPrivilegesStayOnTheTenant: whatever the organization's name, place,
// role and move, every privilege names the tenant database and exactly the
// organization's collection (the shared one for a Shared tenant), never a
// database-wide resource (empty collection), a system collection or the
// operator's own collections, and never an action outside the documented list.
func FuzzPrivilegesStayOnTheTenant(f *testing.F) {
	f.Add("acme", "org_acme", false, false, true)
	f.Add("globex", "shared_tenants", true, true, false)
	f.Add("a", "", false, false, true)
	allowed := append(append(append([]string{}, readActions...), writeActions...), indexActions...)
	f.Fuzz(func(t *testing.T, name, collection string, shared, migrating, readWrite bool) {
		org := orgAt(name, collection, shared, migrating)
		for _, r := range Roles(org) {
			if r.Name != RoleName(name, tenancyv1alpha1.AccessRead) && r.Name != RoleName(name, tenancyv1alpha1.AccessReadWrite) {
				t.Fatalf("role %q is not the organization's", r.Name)
			}
			for _, p := range r.Privileges {
				if p.Collection != collection || p.Collection == "" {
					t.Fatalf("privilege on %q, want exactly %q", p.Collection, collection)
				}
				for _, a := range p.Actions {
					if !slices.Contains(allowed, a) {
						t.Fatalf("action %q is not on the documented list", a)
					}
					if migrating && !slices.Contains(readActions, a) {
						t.Fatalf("write action %q while moving", a)
					}
					if shared && slices.Contains(indexActions, a) {
						t.Fatalf("index action %q on the shared collection", a)
					}
				}
			}
			cmd := mongostore.RoleCommand("orgs", r, true)
			raw, err := bson.Marshal(cmd)
			if err != nil {
				t.Fatal(err)
			}
			privs := bson.Raw(raw).Lookup("privileges").Array()
			values, _ := privs.Values()
			for _, v := range values {
				res := v.Document().Lookup("resource").Document()
				if db := res.Lookup("db").StringValue(); db != "orgs" {
					t.Fatalf("resource db %q", db)
				}
				if _, err := res.LookupErr("cluster"); err == nil {
					t.Fatal("a cluster resource")
				}
			}
		}
		kind := tenancyv1alpha1.AccessRead
		if readWrite {
			kind = tenancyv1alpha1.AccessReadWrite
		}
		_ = Role(name, kind, Location{Collection: collection, Shared: shared}, migrating)
	})
}

func TestUserNames(t *testing.T) {
	a := UserName("acme", "3f2b", SlotA)
	if a != "oa.acme.3f2b.a" || OtherUser(a) != "oa.acme.3f2b.b" || OtherUser(OtherUser(a)) != a {
		t.Fatalf("names %s %s", a, OtherUser(a))
	}
	org, uid, slot, ok := ParseUserName("oa.acme.3f2b.b")
	if !ok || org != "acme" || uid != "3f2b" || slot != SlotB {
		t.Fatalf("parse: %s %s %s %v", org, uid, slot, ok)
	}
	for _, bad := range []string{"acme.3f2b.a", "oa.acme.3f2b.c", "oa.acme.a", "oa..x.a", "oa.acme.read"} {
		if _, _, _, ok := ParseUserName(bad); ok {
			t.Errorf("%q parsed as an access user", bad)
		}
	}
}
