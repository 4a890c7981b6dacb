// Package workload drives organizations the way platform teams and tenant
// admins do (the Kubernetes API, the REST API, documents written by an
// application) and keeps a model of what must be true afterwards: where
// each tenant's documents are, which admin accounts exist, which passwords
// and tokens work. Check compares the model with the real apiserver,
// MongoDB (through an independent client) and the REST API. The chaos
// suite and the soak benchmark use it. It is test support.
package workload

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// Tenant is the model of one organization.
type Tenant struct {
	Name    string
	Tenancy tenancyv1alpha1.Tenancy
	Policy  tenancyv1alpha1.DeletionPolicy
	Email   string
	// Password is the admin's current password; OldPasswords must no
	// longer work.
	Password     string
	OldPasswords []string
	// Chosen is true once the admin chose a password through the API (the
	// Secret then holds only its hash, so the platform does not edit it).
	Chosen bool
	// Docs maps each document's _id to its n field: the tenant's documents.
	Docs map[string]int
	// Seeded is true once documents were written (after the first Ready).
	Seeded bool
}

// Location is where the tenant's documents must be.
func (t *Tenant) Location(shared string) (collection string, filtered bool) {
	if t.Tenancy == tenancyv1alpha1.TenancyShared {
		return shared, true
	}
	return tenancyv1alpha1.DedicatedCollection(t.Name), false
}

// Retained is a tenant deleted with Retain: its documents stay where they were.
type Retained struct {
	Name       string
	Collection string
	Filtered   bool
	Docs       map[string]int
}

// Model is what the workload did, so what must hold once the system has
// converged. It is safe for concurrent use.
type Model struct {
	mu sync.Mutex
	// Live organizations by name.
	live map[string]*Tenant
	// Deleted names, which must be gone (Organization, admin record, Secret).
	deleted map[string]bool
	// Retained data of deleted organizations.
	retained []Retained
	// Revoked access tokens by organization: they must be refused.
	revoked map[string][]string
	// Applications' accesses by namespace/name, live and deleted
	// (access_model.go).
	accesses        map[string]*Access
	deletedAccesses map[string]Access
}

// NewModel is an empty model.
func NewModel() *Model {
	return &Model{live: map[string]*Tenant{}, deleted: map[string]bool{}, revoked: map[string][]string{},
		accesses: map[string]*Access{}, deletedAccesses: map[string]Access{}}
}

// Add records a new live tenant.
func (m *Model) Add(t *Tenant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live[t.Name] = t
	delete(m.deleted, t.Name)
}

// Get returns a copy of the live tenant name (nil when not live).
func (m *Model) Get(name string) *Tenant {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.live[name]
	if t == nil {
		return nil
	}
	c := *t
	c.Docs = maps.Clone(t.Docs)
	c.OldPasswords = slices.Clone(t.OldPasswords)
	return &c
}

// Update applies f to the live tenant name.
func (m *Model) Update(name string, f func(*Tenant)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.live[name]; t != nil {
		f(t)
	}
}

// Names lists the live tenants, sorted.
func (m *Model) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.live))
}

// Live returns copies of every live tenant, sorted by name.
func (m *Model) Live() []*Tenant {
	out := []*Tenant{}
	for _, n := range m.Names() {
		if t := m.Get(n); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// Delete records that name was deleted: with Retain its documents stay at
// their location (shared is the shared collection's name).
func (m *Model) Delete(name, shared string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.live[name]
	if t == nil {
		return
	}
	delete(m.live, name)
	delete(m.revoked, name)
	m.deleted[name] = true
	m.orphanAccesses(name)
	if t.Policy == tenancyv1alpha1.DeletionPolicyRetain && len(t.Docs) > 0 {
		coll, filtered := t.Location(shared)
		m.retained = append(m.retained, Retained{Name: name, Collection: coll, Filtered: filtered, Docs: maps.Clone(t.Docs)})
	}
}

// Rename records that to took over from's data, admin and password.
func (m *Model) Rename(from, to string, tenancy tenancyv1alpha1.Tenancy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.live[from]
	if t == nil {
		return fmt.Errorf("rename: %s is not live", from)
	}
	delete(m.live, from)
	delete(m.revoked, from)
	m.deleted[from] = true
	n := *t
	n.Name, n.Tenancy = to, tenancy
	m.live[to] = &n
	m.moveAccesses(from, to)
	return nil
}

// Revoke records an access token of name that must be refused from now on.
func (m *Model) Revoke(name, token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live[name] != nil && token != "" {
		m.revoked[name] = append(m.revoked[name], token)
	}
}

// Deleted lists the deleted names, sorted.
func (m *Model) Deleted() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.deleted))
}

// RetainedData lists the retained data.
func (m *Model) RetainedData() []Retained {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.retained)
}

// Revoked returns the tokens that must be refused, by organization.
func (m *Model) Revoked() map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]string{}
	for k, v := range m.revoked {
		out[k] = slices.Clone(v)
	}
	return out
}
