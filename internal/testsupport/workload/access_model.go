package workload

import (
	"maps"
	"slices"
)

// Access is the model of one OrganizationAccess an application created.
type Access struct {
	Namespace, Name string
	// UID names its MongoDB users (oa.<organization>.<UID>.<slot>).
	UID string
	// Organization is the organization it reaches: the one it names, or
	// the one that organization was renamed to.
	Organization string
	// Orphaned is true once that organization was deleted: the access must
	// then be Stalled with no user and no Secret.
	Orphaned bool
	// Rotate is the last value of the rotate annotation ("" for none).
	Rotate string
}

// Key is namespace/name.
func (a *Access) Key() string { return a.Namespace + "/" + a.Name }

// AddAccess records a new (or a wrongly deleted) access.
func (m *Model) AddAccess(a *Access) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accesses[a.Key()] = a
	delete(m.deletedAccesses, a.Key())
}

// Access returns a copy of the access key (nil when not live).
func (m *Model) Access(key string) *Access {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.accesses[key]
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

// Accesses returns copies of the live accesses, sorted by key.
func (m *Model) Accesses() []Access {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Access, 0, len(m.accesses))
	for _, k := range slices.Sorted(maps.Keys(m.accesses)) {
		out = append(out, *m.accesses[k])
	}
	return out
}

// UpdateAccess applies f to the live access key.
func (m *Model) UpdateAccess(key string, f func(*Access)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.accesses[key]; a != nil {
		f(a)
	}
}

// DeleteAccess records that the access key was deleted: its object, users
// and Secret must be gone.
func (m *Model) DeleteAccess(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.accesses[key]; a != nil {
		m.deletedAccesses[key] = *a
		delete(m.accesses, key)
	}
}

// DeletedAccesses lists the deleted accesses, sorted by key.
func (m *Model) DeletedAccesses() []Access {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Access, 0, len(m.deletedAccesses))
	for _, k := range slices.Sorted(maps.Keys(m.deletedAccesses)) {
		out = append(out, m.deletedAccesses[k])
	}
	return out
}

// orphanAccesses marks the accesses of a deleted organization (m.mu held).
func (m *Model) orphanAccesses(organization string) {
	for _, a := range m.accesses {
		if a.Organization == organization {
			a.Orphaned = true
		}
	}
}

// moveAccesses points the accesses of a renamed organization at its new
// name (m.mu held).
func (m *Model) moveAccesses(from, to string) {
	for _, a := range m.accesses {
		if a.Organization == from && !a.Orphaned {
			a.Organization = to
		}
	}
}
