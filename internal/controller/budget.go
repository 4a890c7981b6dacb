package controller

import (
	"strings"
	"sync"

	"k8s.io/client-go/tools/cache"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// collectionBudget counts the dedicated collections against
// --max-dedicated-collections: those Organizations hold, from the cluster,
// the master record (an Organization holds one when status.collection is
// dedicated or a move targets a dedicated collection), and those the
// ownership ledger says deleted organizations retained (deletionPolicy
// Retain: their collections still exist, so sign-up and delete in a loop
// cannot grow MongoDB past the budget). It is fed by the Organization
// informer, the bulk observation and the controller's own ledger writes,
// so checking the budget costs no MongoDB call. A reconcile that creates a
// new dedicated collection first reserves a slot, which counts until the
// informer shows the Organization holding it (or the Organization goes), so
// concurrent reconciles cannot overshoot the budget.
type collectionBudget struct {
	// backend is the site whose collections it counts ("": the default one).
	backend string

	mu  sync.Mutex
	max int // 0: unlimited

	holders  map[string]bool
	reserved map[string]bool
	// retained holds the dedicated collections of retained ledger entries;
	// retainedKnown is false until the first observation gave them.
	retained      map[string]bool
	retainedKnown bool
}

func newCollectionBudget(max int) *collectionBudget {
	return &collectionBudget{max: max, holders: map[string]bool{}, reserved: map[string]bool{}, retained: map[string]bool{}}
}

// setRetained replaces the retained collections with those of an
// observation: this cluster's retained ledger entries of dedicated
// collections that still exist (one dropped by hand frees its place).
func (b *collectionBudget) setRetained(obs *mongostore.Observation, cluster string) {
	retained := map[string]bool{}
	for _, e := range obs.Ledger {
		if l := e.Location(); e.State == mongostore.LedgerRetained && e.Cluster == cluster && !l.Shared() && obs.Collections[l.Collection] {
			retained[l.Collection] = true
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.retained, b.retainedKnown = retained, true
}

// counting reports whether the budget can decide: it is unlimited, or the
// retained collections are known (an observation has been taken).
func (b *collectionBudget) counting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.max == 0 || b.retainedKnown
}

// markRetained records that collection is retained (true) or no longer is.
func (b *collectionBudget) markRetained(collection string, retained bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if retained {
		b.retained[collection] = true
	} else {
		delete(b.retained, collection)
	}
}

// holdsDedicated reports whether org holds (or is creating) a dedicated collection.
func holdsDedicated(org *tenancyv1alpha1.Organization) bool {
	if m := org.Status.Migration; m != nil && isDedicatedCollection(m.Target.Collection, m.Target.Organization) {
		return true
	}
	return isDedicatedCollection(org.Status.Collection, org.Status.DocumentFilter)
}

func isDedicatedCollection(collection, filter string) bool {
	return filter == "" && strings.HasPrefix(collection, tenancyv1alpha1.DedicatedCollectionPrefix)
}

// setMax changes the cap (a MongoBackend's spec changed).
func (b *collectionBudget) setMax(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.max = n
}

// counts reports whether org's collections are this budget's: it lives on
// (or is placed on) the budget's site.
func (b *collectionBudget) counts(org *tenancyv1alpha1.Organization) bool {
	site := org.BackendOf()
	if site == "" || site == tenancyv1alpha1.DefaultBackend {
		return b.backend == "" || b.backend == tenancyv1alpha1.DefaultBackend
	}
	return site == b.backend
}

// observe records an Organization as the informer shows it.
func (b *collectionBudget) observe(org *tenancyv1alpha1.Organization) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if holdsDedicated(org) && b.counts(org) {
		b.holders[org.Name] = true
		delete(b.reserved, org.Name)
	} else {
		delete(b.holders, org.Name)
	}
}

// forget drops a deleted Organization.
func (b *collectionBudget) forget(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.holders, name)
	delete(b.reserved, name)
}

// release returns a reservation that will not be used (the organization
// turned out not to need a new dedicated collection).
func (b *collectionBudget) release(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.reserved, name)
}

// reserve grants name a dedicated collection when it already holds one, has
// a reservation, or a slot is free. It returns the number of collections in
// use (holders and reservations) for the caller's message.
func (b *collectionBudget) reserve(name string) (granted bool, used int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	used = b.usedLocked()
	if b.holders[name] || b.reserved[name] {
		return true, used
	}
	if b.max > 0 && used >= b.max {
		return false, used
	}
	b.reserved[name] = true
	return true, used + 1
}

// used is the number of dedicated collections held or reserved.
func (b *collectionBudget) used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usedLocked()
}

func (b *collectionBudget) usedLocked() int {
	n := len(b.holders)
	for name := range b.reserved {
		if !b.holders[name] {
			n++
		}
	}
	return n + b.retainedLocked()
}

// retainedLocked counts the retained collections no Organization holds.
func (b *collectionBudget) retainedLocked() int {
	n := 0
	for c := range b.retained {
		if name, ok := strings.CutPrefix(c, tenancyv1alpha1.DedicatedCollectionPrefix); !ok || !b.holders[name] {
			n++
		}
	}
	return n
}

// retainedCount is the number of retained collections no Organization holds.
func (b *collectionBudget) retainedCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.retainedLocked()
}

// eventHandler feeds the budget from the Organization informer.
func (b *collectionBudget) eventHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if org, ok := obj.(*tenancyv1alpha1.Organization); ok {
				b.observe(org)
			}
		},
		UpdateFunc: func(_, obj any) {
			if org, ok := obj.(*tenancyv1alpha1.Organization); ok {
				b.observe(org)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if org, ok := obj.(*tenancyv1alpha1.Organization); ok {
				b.forget(org.Name)
			}
		},
	}
}
