package controller

import (
	"fmt"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/backend"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// site is one MongoDB deployment that holds tenants, as the controller
// sees it: its store (written through to its observation and budget), its
// latest bulk observation, its dedicated-collection budget, its shared
// collection and the shared collections whose index this process made sure
// of there. The default site is the manager's own deployment, which also
// holds the admin records (r.Store, r.observed); every other site is a
// MongoBackend. A tenant's collections, documents and ledger entries live
// on its site; its admin record and sessions on the default one.
type site struct {
	name          string
	store         TenantStore
	observed      *observation
	budget        *collectionBudget
	shared        string
	sharedIndexes *sync.Map
	// connection is the backend.Deployment's connection number the store belongs to.
	connection uint64
	// budgetFeed is the budget's registration with the Organization informer.
	budgetFeed toolscache.ResourceEventHandlerRegistration
}

// sites holds the known sites by name. A site's observation and budget
// outlive reconnections (a changed Secret): only its store and shared
// indexes are new.
type sites struct {
	mu sync.RWMutex
	m  map[string]*site
}

func (s *sites) get(name string) (*site, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.m[name]
	return st, ok
}

func (s *sites) all() []*site {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*site, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	return out
}

// siteOf is the site an organization's data lives on. An organization
// placed before backends existed lives on the default site; one whose
// backend is not connected (yet, or any more) gets a site whose every call
// fails as unavailable, so that it reports MongoUnavailable and waits.
func (r *OrganizationReconciler) siteOf(org *tenancyv1alpha1.Organization) *site {
	name := org.BackendOf()
	if name == "" {
		name = tenancyv1alpha1.DefaultBackend
	}
	if s, ok := r.sites.get(name); ok {
		return s
	}
	return disconnectedSite(name)
}

// disconnectedSite is a site no deployment answers for.
func disconnectedSite(name string) *site {
	err := fmt.Errorf("%w: MongoBackend %s is not connected (see its status)", mongostore.ErrUnavailable, name)
	o := newObservation(0)
	o.fail(err)
	return &site{name: name, store: unavailableStore{err: err}, observed: o, budget: newCollectionBudget(0),
		sharedIndexes: &sync.Map{}, shared: tenancyv1alpha1.DefaultSharedCollection}
}

// connectSite makes the controller's site of a deployment match the
// registry: a new site for a new deployment (its budget fed by the
// Organization informer, which replays every Organization to a new
// handler), a new store for a reconnected one (observation and budget
// kept), the budget's cap for changed settings, and no site for a removed
// one. siteChanged then starts or stops its observer loop.
func (r *OrganizationReconciler) connectSite(name string) error {
	d, connected := r.backends.Get(name)
	r.sites.mu.Lock()
	old, existed := r.sites.m[name]
	var err error
	switch {
	case !connected && existed:
		delete(r.sites.m, name)
		if old.budgetFeed != nil {
			err = r.orgInformer.RemoveEventHandler(old.budgetFeed)
		}
	case !connected:
	case existed && old.connection == d.Connection:
		old.budget.setMax(d.MaxDedicated)
	default:
		s := &site{name: name, shared: d.SharedCollection, sharedIndexes: &sync.Map{}, connection: d.Connection}
		if existed {
			s.observed, s.budget, s.budgetFeed = old.observed, old.budget, old.budgetFeed
			s.budget.setMax(d.MaxDedicated)
		} else {
			s.observed, s.budget = newObservation(r.observed.maxAge), newCollectionBudget(d.MaxDedicated)
			s.budget.backend = name
			s.budgetFeed, err = r.orgInformer.AddEventHandler(s.budget.eventHandler())
		}
		s.store = &writeThrough{TenantStore: d.Store, observed: s.observed, budget: s.budget}
		r.sites.m[name] = s
	}
	r.sites.mu.Unlock()
	if r.siteChanged != nil {
		r.siteChanged(name)
	}
	return err
}

// report tells the backend registry what a pass over s saw (the
// MongoBackend's status is written from it).
func (r *OrganizationReconciler) report(s *site, obs *mongostore.Observation, err error) {
	if r.backends == nil {
		return
	}
	h := backend.Health{Taken: time.Now(), Err: err}
	if obs != nil {
		h.Taken = obs.Taken
		h.DedicatedCollections, h.Retained = ledgerCounts(obs, r.ClusterID)
	}
	r.backends.Report(s.name, h)
}

// ledgerCounts counts this cluster's ledger entries of an observation: the
// dedicated collections they hold that exist, and the retained entries.
func ledgerCounts(obs *mongostore.Observation, cluster string) (dedicated, retained int) {
	for _, e := range obs.Ledger {
		if e.Cluster != cluster {
			continue
		}
		if l := e.Location(); !l.Shared() && obs.Collections[l.Collection] {
			dedicated++
		}
		if e.State == mongostore.LedgerRetained {
			retained++
		}
	}
	return dedicated, retained
}

// siteLocation is a location on a site.
type siteLocation struct {
	site *site
	loc  mongostore.Location
}

// siteNamed is the named site (a disconnected one when it is not known).
func (r *OrganizationReconciler) siteNamed(name string) *site {
	if s, ok := r.sites.get(name); ok {
		return s
	}
	return disconnectedSite(name)
}

// siteAt is the site of one end of a move: the one it names, else the
// organization's.
func (r *OrganizationReconciler) siteAt(org *tenancyv1alpha1.Organization, l tenancyv1alpha1.DocumentLocation) *site {
	if l.Backend != "" {
		return r.siteNamed(l.Backend)
	}
	return r.siteOf(org)
}
