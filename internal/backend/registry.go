// Package backend keeps the MongoDB deployments that hold tenants: the
// manager's own (--mongodb-uri, named tenancyv1alpha1.DefaultBackend) and
// one per MongoBackend, connected from its Secret by the MongoBackend
// controller (controller.go). The Organization controller takes each
// deployment's store from the Registry and reports back what its bulk
// observation of the deployment saw, from which the MongoBackend's status
// is written.
package backend

import (
	"sort"
	"sync"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// Deployment is one connected MongoDB deployment.
type Deployment struct {
	// Name is the MongoBackend's name, or tenancyv1alpha1.DefaultBackend.
	Name string
	// Store is connected to the deployment's database.
	Store *mongostore.Store
	// SharedCollection holds the deployment's Shared tenants.
	SharedCollection string
	// MaxDedicated caps its dedicated collections (0: no cap).
	MaxDedicated int
	// Connection increases each time the deployment is connected again
	// (its Secret changed): state tied to the old connection is stale.
	Connection uint64
}

// Health is what the latest bulk observation of a deployment saw.
type Health struct {
	// Taken is when the observation ran.
	Taken time.Time
	// Err is why it failed (nil: the deployment answered and its ledger was read).
	Err error
	// DedicatedCollections counts the dedicated collections this cluster's
	// ledger entries hold there, retained ones included.
	DedicatedCollections int
	// Retained counts this cluster's retained ledger entries there: data
	// of deleted organizations kept by deletionPolicy Retain.
	Retained int
}

// Registry holds the connected deployments and their latest health. It is
// safe for concurrent use; listeners are called without its lock held.
type Registry struct {
	mu          sync.RWMutex
	deployments map[string]Deployment
	health      map[string]Health
	connections uint64
	onChange    []func(name string)
	onHealth    []func(name string)
}

// NewRegistry holds the manager's own deployment under
// tenancyv1alpha1.DefaultBackend (primary).
func NewRegistry(primary Deployment) *Registry {
	r := &Registry{deployments: map[string]Deployment{}, health: map[string]Health{}}
	r.Set(primary)
	return r
}

// Get returns the named deployment when it is connected.
func (r *Registry) Get(name string) (Deployment, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.deployments[name]
	return d, ok
}

// Names lists the connected deployments, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.deployments))
	for n := range r.deployments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Set adds or replaces a deployment (giving it a new Connection number)
// and tells the listeners. It returns the one it replaced, which the caller
// closes once nothing uses it.
func (r *Registry) Set(d Deployment) (replaced Deployment, ok bool) {
	r.mu.Lock()
	r.connections++
	d.Connection = r.connections
	replaced, ok = r.deployments[d.Name]
	r.deployments[d.Name] = d
	listeners := r.onChange
	r.mu.Unlock()
	for _, f := range listeners {
		f(d.Name)
	}
	return replaced, ok
}

// Update changes a connected deployment's settings (not its connection)
// and tells the listeners; false when it is not connected.
func (r *Registry) Update(name, sharedCollection string, maxDedicated int) bool {
	r.mu.Lock()
	d, ok := r.deployments[name]
	changed := ok && (d.SharedCollection != sharedCollection || d.MaxDedicated != maxDedicated)
	if changed {
		d.SharedCollection, d.MaxDedicated = sharedCollection, maxDedicated
		r.deployments[name] = d
	}
	listeners := r.onChange
	r.mu.Unlock()
	if changed {
		for _, f := range listeners {
			f(name)
		}
	}
	return ok
}

// Remove forgets a deployment and tells the listeners; the caller closes
// the store it returns.
func (r *Registry) Remove(name string) (Deployment, bool) {
	r.mu.Lock()
	d, ok := r.deployments[name]
	delete(r.deployments, name)
	delete(r.health, name)
	listeners := r.onChange
	r.mu.Unlock()
	if ok {
		for _, f := range listeners {
			f(name)
		}
	}
	return d, ok
}

// OnChange registers f, called with a deployment's name whenever it is
// added, replaced, updated or removed.
func (r *Registry) OnChange(f func(name string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onChange = append(r.onChange, f)
}

// OnHealth registers f, called with a deployment's name after each report.
func (r *Registry) OnHealth(f func(name string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onHealth = append(r.onHealth, f)
}

// Report records what an observation of the deployment saw.
func (r *Registry) Report(name string, h Health) {
	r.mu.Lock()
	if _, ok := r.deployments[name]; !ok {
		r.mu.Unlock()
		return
	}
	r.health[name] = h
	listeners := r.onHealth
	r.mu.Unlock()
	for _, f := range listeners {
		f(name)
	}
}

// Health returns the latest report on the deployment (false: none yet).
func (r *Registry) Health(name string) (Health, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.health[name]
	return h, ok
}
