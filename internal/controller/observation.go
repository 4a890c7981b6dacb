package controller

import (
	"sync"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// observation holds the latest bulk mongostore.Observation, amended by what
// reconciles wrote since (write-through). A reconcile of a Ready tenant
// reads it instead of asking MongoDB: a resync of an undrifted tenant then
// costs no MongoDB command. It only ever answers "in place" for what a
// recent observation or this process's own writes showed; anything it does
// not know is checked against MongoDB.
type observation struct {
	maxAge time.Duration
	now    func() time.Time

	mu sync.RWMutex
	// latest is nil before the first successful pass.
	latest *mongostore.Observation
	// unavailable is the error of the last pass when MongoDB could not be reached.
	unavailable error
}

func newObservation(maxAge time.Duration) *observation {
	return &observation{maxAge: maxAge, now: time.Now}
}

// set replaces the observation after a successful pass.
func (o *observation) set(obs *mongostore.Observation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latest, o.unavailable = obs, nil
}

// fail records a pass that could not reach MongoDB: until the next
// successful pass nothing is known, and reconciles that would have relied
// on the observation report the outage without trying.
func (o *observation) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latest, o.unavailable = nil, err
}

// current returns the observation when it is recent enough to rely on.
func (o *observation) current() *mongostore.Observation {
	if o.latest == nil || o.now().Sub(o.latest.Taken) > o.maxAge {
		return nil
	}
	return o.latest
}

// ready reports whether an observation is known (or the last pass failed):
// a resync of a Ready tenant waits for the first pass instead of asking
// MongoDB tenant by tenant.
func (o *observation) ready() bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.current() != nil || o.unavailable != nil
}

// storeUnavailable is the error of the last pass when MongoDB was unreachable.
func (o *observation) storeUnavailable() error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.unavailable
}

// hasCollection reports whether the collection is known to exist.
func (o *observation) hasCollection(name string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs := o.current()
	return obs != nil && obs.Collections[name]
}

// adminMatches reports whether the organization's admin record is known to
// carry email and fingerprint.
func (o *observation) adminMatches(organization, email, fingerprint string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs := o.current()
	if obs == nil {
		return false
	}
	a, ok := obs.Admins[organization]
	return ok && a.Email == email && a.CredentialsFingerprint == fingerprint
}

// recordCollection, forgetCollection, recordAdmin and forgetAdmin amend the
// observation with this process's own writes.
func (o *observation) recordCollection(name string) {
	o.amend(func(obs *mongostore.Observation) { obs.Collections[name] = true })
}

func (o *observation) forgetCollection(name string) {
	o.amend(func(obs *mongostore.Observation) { delete(obs.Collections, name) })
}

func (o *observation) recordAdmin(organization string, a mongostore.AdminSummary) {
	o.amend(func(obs *mongostore.Observation) { obs.Admins[organization] = a })
}

func (o *observation) forgetAdmin(organization string) {
	o.amend(func(obs *mongostore.Observation) { delete(obs.Admins, organization) })
}

func (o *observation) amend(f func(*mongostore.Observation)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.latest != nil {
		f(o.latest)
	}
}
