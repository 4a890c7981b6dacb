package controller

import (
	"sync"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// observation holds the latest bulk mongostore.Observation, amended by what
// reconciles wrote since (write-through). Reconciles read it instead of
// asking MongoDB: a resync of an undrifted tenant costs no MongoDB command,
// and a new tenant needs no read (its collection and admin record are known
// to be missing, its email known to be free), only the writes that create
// it. It answers only what a recent observation or this process's own
// writes showed; whatever it does not know is asked of MongoDB. (On FerretDB
// such lookups scan the table, so they are the cost that grows with N.)
type observation struct {
	maxAge time.Duration
	now    func() time.Time

	mu sync.RWMutex
	// latest is nil before the first successful pass.
	latest *mongostore.Observation
	// emails maps each known admin email to its organization.
	emails map[string]string
	// unsure holds organizations whose admin record this process changed
	// without knowing the result (a re-homed record, a lost insert race).
	unsure map[string]bool
	// unavailable is the error of the last pass when MongoDB could not be reached.
	unavailable error
}

func newObservation(maxAge time.Duration) *observation {
	return &observation{maxAge: maxAge, now: time.Now}
}

// set replaces the observation after a successful pass.
func (o *observation) set(obs *mongostore.Observation) {
	emails := make(map[string]string, len(obs.Admins))
	for org, a := range obs.Admins {
		emails[a.Email] = org
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latest, o.emails, o.unsure, o.unavailable = obs, emails, map[string]bool{}, nil
}

// fail records a pass that could not reach MongoDB: until the next
// successful pass nothing is known, and reconciles that would have relied
// on the observation report the outage without trying.
func (o *observation) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latest, o.emails, o.unsure, o.unavailable = nil, nil, nil, err
}

// current returns the observation when it is recent enough to rely on.
func (o *observation) current() *mongostore.Observation {
	if o.latest == nil || o.now().Sub(o.latest.Taken) > o.maxAge {
		return nil
	}
	return o.latest
}

// taken is when the current observation was taken.
func (o *observation) taken() (time.Time, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if obs := o.current(); obs != nil {
		return obs.Taken, true
	}
	return time.Time{}, false
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

// collection reports whether the collection is known to exist (exists) or
// known to be missing (known and !exists).
func (o *observation) collection(name string) (exists, known bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs := o.current()
	if obs == nil {
		return false, false
	}
	return obs.Collections[name], true
}

// admin returns the organization's admin record summary when it is known to
// exist (present), or known to be missing (known and !present).
func (o *observation) admin(organization string) (a mongostore.AdminSummary, present, known bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs := o.current()
	if obs == nil || o.unsure[organization] {
		return mongostore.AdminSummary{}, false, false
	}
	a, present = obs.Admins[organization]
	return a, present, true
}

// adminMatches reports whether the organization's admin record is known to
// carry email and fingerprint.
func (o *observation) adminMatches(organization, email, fingerprint string) bool {
	a, present, _ := o.admin(organization)
	return present && a.Email == email && a.CredentialsFingerprint == fingerprint
}

// emailFree reports whether email is known to be free for organization (no
// other organization's admin holds it).
func (o *observation) emailFree(email, organization string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.current() == nil {
		return false
	}
	holder, held := o.emails[email]
	return !held || holder == organization
}

// recordCollection and forgetCollection amend the observation with this
// process's own writes.
func (o *observation) recordCollection(name string) {
	o.amend(func(obs *mongostore.Observation) { obs.Collections[name] = true })
}

func (o *observation) forgetCollection(name string) {
	o.amend(func(obs *mongostore.Observation) { delete(obs.Collections, name) })
}

// recordAdmin notes the admin record as this process wrote (or read) it.
func (o *observation) recordAdmin(organization string, a mongostore.AdminSummary) {
	o.amend(func(obs *mongostore.Observation) {
		o.dropEmailLocked(organization)
		obs.Admins[organization] = a
		o.emails[a.Email] = organization
		delete(o.unsure, organization)
	})
}

// absentAdmin notes that the organization has no admin record (deleted).
func (o *observation) absentAdmin(organization string) {
	o.amend(func(obs *mongostore.Observation) {
		o.dropEmailLocked(organization)
		delete(obs.Admins, organization)
		delete(o.unsure, organization)
	})
}

// unsureAdmin notes that the organization's admin record is not known any
// more: it is read from MongoDB until the next pass.
func (o *observation) unsureAdmin(organization string) {
	o.amend(func(*mongostore.Observation) { o.unsure[organization] = true })
}

// dropEmailLocked removes the organization's current email from the index.
func (o *observation) dropEmailLocked(organization string) {
	if a, ok := o.latest.Admins[organization]; ok && o.emails[a.Email] == organization {
		delete(o.emails, a.Email)
	}
}

func (o *observation) amend(f func(*mongostore.Observation)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.latest != nil {
		f(o.latest)
	}
}

// ledgerEntry returns the ledger entry of l (nil when there is none) when
// the observation knows it.
func (o *observation) ledgerEntry(l mongostore.Location) (entry *mongostore.LedgerEntry, known bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs := o.current()
	if obs == nil || o.unsure[ledgerKey(l)] {
		return nil, false
	}
	if e, ok := obs.Ledger[l.Key()]; ok {
		return &e, true
	}
	return nil, true
}

// documents returns how many documents l holds when the observation knows:
// none in a missing collection, or a shared tenant's count.
func (o *observation) documents(l mongostore.Location) (n int64, known bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs := o.current()
	switch {
	case obs == nil:
		return 0, false
	case !obs.Collections[l.Collection]:
		return 0, true
	case l.Shared() && !o.unsure[ledgerKey(l)]:
		return obs.SharedDocuments[l.Organization], true
	}
	return 0, false
}

// recordLedger and unsureLedger amend the observation's ledger with this
// process's own writes.
func (o *observation) recordLedger(e mongostore.LedgerEntry) {
	o.amend(func(obs *mongostore.Observation) {
		obs.Ledger[e.Key] = e
		delete(o.unsure, "ledger:"+e.Key)
	})
}

func (o *observation) unsureLedger(l mongostore.Location) {
	o.amend(func(*mongostore.Observation) { o.unsure[ledgerKey(l)] = true })
}

func ledgerKey(l mongostore.Location) string { return "ledger:" + l.Key() }
