//go:build integration

package access_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// roleRecorder stands for a server with custom roles (FerretDB v1 has
// none): it keeps the role command documents the manager sends, as the
// server would hold them, and passes every user command to FerretDB
// without the roles (which FerretDB refuses).
type roleRecorder struct {
	access.Store
	mu       sync.Mutex
	roles    map[string]mongostore.Role
	commands []string
	grants   map[string][]string
}

func newRoleRecorder(s access.Store) *roleRecorder {
	return &roleRecorder{Store: s, roles: map[string]mongostore.Role{}, grants: map[string][]string{}}
}

func (r *roleRecorder) AccessCapabilities(context.Context) (mongostore.AccessCapabilities, error) {
	return mongostore.AccessCapabilities{Users: true, Roles: true}, nil
}

func (r *roleRecorder) EnsureRole(_ context.Context, role mongostore.Role) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, exists := r.roles[role.Name]
	b, _ := bson.MarshalExtJSON(mongostore.RoleCommand("orgs", role, !exists), false, false)
	r.commands = append(r.commands, string(b))
	r.roles[role.Name] = role
	return nil
}

func (r *roleRecorder) DropRole(_ context.Context, name string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.roles[name]
	delete(r.roles, name)
	return ok, nil
}

func (r *roleRecorder) Roles(_ context.Context, prefix string) ([]mongostore.Role, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mongostore.Role
	for n, role := range r.roles {
		if len(n) >= len(prefix) && n[:len(prefix)] == prefix {
			out = append(out, role)
		}
	}
	return out, nil
}

func (r *roleRecorder) SetUser(ctx context.Context, name, password string, roles []string) error {
	r.grant(name, roles)
	return r.Store.SetUser(ctx, name, password, nil)
}

func (r *roleRecorder) GrantRoles(_ context.Context, name string, roles []string) error {
	r.grant(name, roles)
	return nil
}

func (r *roleRecorder) grant(name string, roles []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.grants[name] = slices.Clone(roles)
}

// granted are the roles user holds now.
func (r *roleRecorder) granted(user string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.grants[user])
}

// role is the role name as the server holds it now.
func (r *roleRecorder) role(name string) (mongostore.Role, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	role, ok := r.roles[name]
	return role, ok
}

// writable reports whether role name grants a write action now.
func (r *roleRecorder) writable(name string) bool {
	role, _ := r.role(name)
	for _, p := range role.Privileges {
		for _, a := range p.Actions {
			if a == "insert" || a == "update" || a == "remove" {
				return true
			}
		}
	}
	return false
}

// movesWatcher wraps the tenant store: every batch a move copies, relabels
// or renames is checked against the recorder's roles at that moment.
type movesWatcher struct {
	controller.TenantStore
	recorder   *roleRecorder
	mu         sync.Mutex
	copies     int
	violations []string
}

func (m *movesWatcher) check(op string, src mongostore.Location) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.copies++
	m.recorder.mu.Lock()
	names := make([]string, 0, len(m.recorder.roles))
	for name := range m.recorder.roles {
		names = append(names, name)
	}
	m.recorder.mu.Unlock()
	for _, name := range names {
		if m.recorder.writable(name) && rolesOf(name, src) {
			m.violations = append(m.violations, fmt.Sprintf("%s of %s while role %s grants writes", op, src, name))
		}
	}
}

// rolesOf reports whether role name belongs to the organization whose
// documents are at src (its collection, or its organization field).
func rolesOf(name string, src mongostore.Location) bool {
	org := src.Organization
	if org == "" {
		org = src.Collection[len(tenancyv1alpha1.DedicatedCollectionPrefix):]
	}
	return name == access.RoleName(org, tenancyv1alpha1.AccessReadWrite)
}

func (m *movesWatcher) CopyTenant(ctx context.Context, src, dst mongostore.Location, batch int, after func(int64) error) error {
	return m.TenantStore.CopyTenant(ctx, src, dst, batch, func(read int64) error {
		m.check("copy", src)
		return after(read)
	})
}

var _ = Describe("Roles follow the tenant's documents", Ordered, func() {
	var recorder *roleRecorder
	var watcher *movesWatcher
	BeforeAll(func() {
		restartManager(testenv.Options{MigrationBatchSize: 20,
			// The operator wraps its tenant store first, then the access store.
			WrapStore: func(s controller.TenantStore) controller.TenantStore {
				watcher = &movesWatcher{TenantStore: s}
				return watcher
			},
			WrapAccessStore: func(s access.Store) access.Store {
				recorder = newRoleRecorder(s)
				watcher.recorder = recorder
				return recorder
			}})
		DeferCleanup(func() { restartManager(testenv.Options{}) })
	})

	It("withdraws write actions while a tenancy switch copies, and grants them at the new place once it is done; "+
		"the Secret's collection and filter follow the switch", func() {
		ns := namespace("apps")
		org := organization("moving", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name))
		rw := access.RoleName(org.Name, tenancyv1alpha1.AccessReadWrite)
		Eventually(func() bool { return recorder.writable(rw) }, timeout, interval).Should(BeTrue())
		role, _ := recorder.role(rw)
		Expect(role.Privileges).To(ConsistOf(mongostore.Privilege{Collection: "org_" + org.Name,
			Actions: []string{"changeStream", "collStats", "createIndex", "dropIndex", "find", "insert", "listIndexes", "remove", "update"}}))
		Expect(recorder.granted(a.Status.Username)).To(ConsistOf(rw), "the user holds the organization's ReadWrite role")
		Expect(a.Status.Isolation).To(Equal(tenancyv1alpha1.IsolationCollection))
		Expect(testEnv.Seed.Documents(ctx, "org_"+org.Name, org.Name, "", 300)).To(Succeed())

		patchOrg(org.Name, func(o *tenancyv1alpha1.Organization) { o.Spec.Tenancy = tenancyv1alpha1.TenancyShared })
		sawMigrating := false
		Eventually(func() error {
			o := &tenancyv1alpha1.Organization{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: org.Name}, o)).To(Succeed())
			if meta.IsStatusConditionTrue(o.Status.Conditions, tenancyv1alpha1.ConditionMigrating) {
				sawMigrating = true
			}
			return convergence.Check(o)
		}, 2*timeout, 20*time.Millisecond).Should(Succeed())
		Expect(sawMigrating).To(BeTrue(), "the move was not seen")
		watcher.mu.Lock()
		copies, violations := watcher.copies, slices.Clone(watcher.violations)
		watcher.mu.Unlock()
		Expect(copies).To(BeNumerically(">=", 15), "300 documents in batches of 20")
		Expect(violations).To(BeEmpty())

		role, _ = recorder.role(rw)
		Expect(role.Privileges).To(ConsistOf(mongostore.Privilege{Collection: tenancyv1alpha1.DefaultSharedCollection,
			Actions: []string{"changeStream", "collStats", "find", "insert", "listIndexes", "remove", "update"}}),
			"ReadWrite on the shared collection, without index actions")
		Eventually(func() string {
			return string(connectionSecret(ns, a.Name).Data["collection"])
		}, timeout, interval).Should(Equal(tenancyv1alpha1.DefaultSharedCollection))
		o := &tenancyv1alpha1.Organization{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: org.Name}, o)).To(Succeed())
		s := connectionSecret(ns, a.Name)
		Expect(string(s.Data["collection"])).To(Equal(o.Status.Collection))
		Expect(string(s.Data["filter"])).To(Equal(o.Status.DocumentFilter))
		Expect(getAccess(a).Status.Isolation).To(Equal(tenancyv1alpha1.IsolationSharedCollection))
		Expect(authenticates(s)).To(Succeed())

		// The commands, in order: created, withdrawn for the move (at the
		// source, then at the target), granted at the target.
		var forRW []string
		for _, c := range recorder.commands {
			if strings.Contains(c, `"`+rw+`"`) {
				forRW = append(forRW, c)
			}
		}
		Expect(len(forRW)).To(BeNumerically(">=", 3))
		Expect(forRW[0]).To(HavePrefix(`{"createRole":`))
		Expect(forRW[len(forRW)-1]).To(ContainSubstring(`"insert"`))
		Expect(forRW[len(forRW)-1]).To(ContainSubstring(tenancyv1alpha1.DefaultSharedCollection))
	})

	It("gives the access's users the organization's role for their kind, and changes it with spec.role", func() {
		ns := namespace("apps")
		org := organization("kinds", tenancyv1alpha1.TenancyDedicated, ns)
		a := accessReady(newAccess(ns, org.Name, func(a *tenancyv1alpha1.OrganizationAccess) { a.Spec.Role = tenancyv1alpha1.AccessRead }))
		Expect(recorder.granted(a.Status.Username)).To(ConsistOf(access.RoleName(org.Name, tenancyv1alpha1.AccessRead)))
		patchAccess(a, func(a *tenancyv1alpha1.OrganizationAccess) { a.Spec.Role = tenancyv1alpha1.AccessReadWrite })
		a = accessReady(a)
		Eventually(func() []string { return recorder.granted(a.Status.Username) }, timeout, interval).
			Should(ConsistOf(access.RoleName(org.Name, tenancyv1alpha1.AccessReadWrite)))
	})

	It("drops the organization's roles with it", func() {
		ns := namespace("apps")
		org := organization("roles-gone", tenancyv1alpha1.TenancyDedicated, ns)
		accessReady(newAccess(ns, org.Name))
		Eventually(func() bool { _, ok := recorder.role(access.RoleName(org.Name, tenancyv1alpha1.AccessRead)); return ok }).Should(BeTrue())
		Expect(k8s.Delete(ctx, org)).To(Succeed())
		Eventually(func() bool {
			_, r := recorder.role(access.RoleName(org.Name, tenancyv1alpha1.AccessRead))
			_, rw := recorder.role(access.RoleName(org.Name, tenancyv1alpha1.AccessReadWrite))
			return r || rw
		}, timeout, interval).Should(BeFalse())
	})
})
