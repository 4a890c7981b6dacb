package controller

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/audit"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// observerRetry is how soon a pass runs again after MongoDB was unreachable.
const observerRetry = 5 * time.Second

// observer replaces the per-organization resync: every resync period (with
// +-10% jitter, so replicas and restarts do not align) it takes one bulk
// Observation of MongoDB, a constant number of commands whatever the number
// of tenants, and enqueues, at low priority, only the Organizations whose
// MongoDB side drifted from what their status says. It runs on the leader.
// When MongoDB cannot be reached it says so to the Ready organizations
// (which then report MongoUnavailable without each asking MongoDB) and tries
// again every few seconds; once it can, it enqueues those organizations again.
type observer struct {
	r      *OrganizationReconciler
	period time.Duration
	events chan<- event.GenericEvent

	mu sync.Mutex
	// ctx is set once Start runs; loops holds each site's loop (a kick
	// channel and its cancel function).
	ctx   context.Context
	loops map[string]*siteLoop
}

// siteLoop is the observer's loop over one site.
type siteLoop struct {
	kick   chan struct{}
	cancel context.CancelFunc
}

// NeedLeaderElection is true: only the leader reconciles.
func (o *observer) NeedLeaderElection() bool { return true }

// Start runs one loop per site until ctx is done: each site is observed on
// its own, so an unreachable deployment delays no other.
func (o *observer) Start(ctx context.Context) error {
	o.mu.Lock()
	o.ctx, o.loops = ctx, map[string]*siteLoop{}
	o.mu.Unlock()
	for _, s := range o.r.sites.all() {
		o.siteChanged(s.name)
	}
	<-ctx.Done()
	return nil
}

// siteChanged starts the loop of a new site, makes a reconnected one look
// again at once, and stops the loop of a removed one. Before Start it does
// nothing (Start starts every site's loop).
func (o *observer) siteChanged(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ctx == nil {
		return
	}
	l, running := o.loops[name]
	_, exists := o.r.sites.get(name)
	switch {
	case running && !exists:
		l.cancel()
		delete(o.loops, name)
	case running:
		select {
		case l.kick <- struct{}{}:
		default:
		}
	case exists:
		ctx, cancel := context.WithCancel(o.ctx)
		l = &siteLoop{kick: make(chan struct{}, 1), cancel: cancel}
		o.loops[name] = l
		go o.loop(ctx, name, l.kick)
	}
}

// loop runs passes over one site until ctx is done or the site is gone.
func (o *observer) loop(ctx context.Context, name string, kick <-chan struct{}) {
	for {
		s, ok := o.r.sites.get(name)
		if !ok {
			return
		}
		next := o.pass(ctx, s)
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-time.After(next):
		}
	}
}

// onSite reports whether org's data lives on s.
func onSite(org *tenancyv1alpha1.Organization, s *site) bool {
	b := org.BackendOf()
	return b == s.name || (b == "" && s.name == tenancyv1alpha1.DefaultBackend)
}

// pass takes one observation of a site and enqueues what it shows needs
// work among the site's organizations; it returns when the next pass is due.
// The default site's pass also feeds the audit gauges, records legacy
// owners and refreshes application access (which lives there).
func (o *observer) pass(ctx context.Context, s *site) time.Duration {
	log := logf.FromContext(ctx).WithName("observer").WithValues("backend", s.name)
	primary := s.name == tenancyv1alpha1.DefaultBackend
	obs, err := s.store.Observe(ctx, s.shared)
	if err != nil {
		o.r.report(s, nil, err)
		if !mongostore.IsUnavailable(err) {
			log.Error(err, "observing MongoDB")
			return observerRetry
		}
		s.observed.fail(err)
		o.enqueue(ctx, func(org *tenancyv1alpha1.Organization) bool { return onSite(org, s) && settled(org) })
		return observerRetry
	}
	if primary {
		o.audit(ctx, obs) // before set: afterwards reconciles amend obs
	}
	o.repairIndexes(ctx, s, obs)
	s.observed.set(obs)
	s.budget.setRetained(obs, o.r.ClusterID)
	o.r.report(s, obs, nil)
	if primary {
		o.recordLegacyOwners(ctx, obs.Taken)
		if err := o.r.Access.Refresh(ctx); err != nil {
			log.Error(err, "reading the application-access roles")
		}
	}
	o.enqueue(ctx, func(org *tenancyv1alpha1.Organization) bool {
		return onSite(org, s) && (waitingForMongo(org) ||
			settled(org) && (o.r.drifted(ctx, org, obs.Taken) || o.r.needsPlacement(org) || primary && o.r.Access.Drifted(org)))
	})
	return jitter(o.period)
}

// repairIndexes recreates the indexes the observation shows missing
// (dropped out of band: without the unique ones, two admin records could
// take one email), logs each repair and counts it; a failure is logged and
// retried on the next pass.
func (o *observer) repairIndexes(ctx context.Context, s *site, obs *mongostore.Observation) {
	log := logf.FromContext(ctx).WithName("observer").WithValues("backend", s.name)
	repaired, err := s.store.RepairIndexes(ctx, obs, s.shared)
	for _, ix := range repaired {
		log.Info("recreated an index that was dropped out of band", "index", ix.String(), "unique", ix.Unique)
		o.r.metrics.indexRepairs.WithLabelValues(ix.Collection, ix.Name()).Inc()
	}
	if err != nil {
		log.Error(err, "recreating dropped indexes; retried on the next pass")
	}
}

// audit feeds the retained and orphan gauges from the observation, at no
// extra MongoDB cost.
func (o *observer) audit(ctx context.Context, obs *mongostore.Observation) {
	var list tenancyv1alpha1.OrganizationList
	if err := o.r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	o.r.metrics.recordAudit(audit.Analyze(list.Items, obs, o.r.ClusterID))
}

// enqueue sends every cached Organization that matches to the controller.
func (o *observer) enqueue(ctx context.Context, match func(*tenancyv1alpha1.Organization) bool) {
	var list tenancyv1alpha1.OrganizationList
	if err := o.r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "listing organizations from the cache")
		return
	}
	for i := range list.Items {
		if !match(&list.Items[i]) {
			continue
		}
		select {
		case o.events <- event.GenericEvent{Object: &list.Items[i]}:
		case <-ctx.Done():
			return
		}
	}
}

// recordLegacyOwners gives the ledger an entry for every settled
// organization whose location has none: organizations placed before the
// ledger existed (an upgrade). It writes only what is missing, so it costs
// nothing once every organization has its entry; an entry of another owner
// is left as it is. An organization that became Ready after the
// observation was taken is left to the next pass: its claim may be missing
// from this one.
func (o *observer) recordLegacyOwners(ctx context.Context, taken time.Time) {
	var list tenancyv1alpha1.OrganizationList
	if err := o.r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range list.Items {
		org := &list.Items[i]
		l, placed := currentLocation(org)
		if !placed || !settled(org) || org.BackendOf() != tenancyv1alpha1.DefaultBackend || readySince(org, taken) {
			continue
		}
		if entry, known := o.r.observed.ledgerEntry(l); !known || entry != nil {
			continue
		}
		err := o.r.Store.ClaimLocation(ctx, mongostore.NewLedgerEntry(l, org.Name, string(org.UID), o.r.ClusterID, time.Now()))
		if err != nil && !errors.Is(err, mongostore.ErrLocationClaimed) {
			logf.FromContext(ctx).Error(err, "recording an organization in the ownership ledger", "organization", org.Name)
		}
	}
}

// jitter spreads d by +-10%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// settled reports whether org is Ready for its current generation with no
// move, rename or deletion under way and is not paused: the state a resync
// only checks. A paused organization is never settled, so the observer
// neither repairs its drift nor writes its ledger entry.
func settled(org *tenancyv1alpha1.Organization) bool {
	return org.DeletionTimestamp.IsZero() && !org.Paused() &&
		org.Status.ObservedGeneration == org.Generation &&
		meta.IsStatusConditionTrue(org.Status.Conditions, tenancyv1alpha1.ConditionReady) &&
		org.Status.Migration == nil &&
		(org.Spec.RenamedFrom == "" || org.Status.RenamedFrom != "")
}

// waitingForMongo reports whether org last failed because MongoDB was unreachable.
func waitingForMongo(org *tenancyv1alpha1.Organization) bool {
	c := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
	return c != nil && c.Reason == tenancyv1alpha1.ReasonMongoUnavailable
}

// drifted reports whether the observation, taken at taken, contradicts a
// settled organization: its collection is gone, or its admin record is
// missing or does not carry the spec's email and the credentials Secret's
// fingerprint. An organization that became Ready after the observation
// started is left to the next one (what it wrote may be missing from this
// one). It reads the observation through its lock: reconciles amend it meanwhile.
func (r *OrganizationReconciler) drifted(ctx context.Context, org *tenancyv1alpha1.Organization, taken time.Time) bool {
	if readySince(org, taken) {
		return false
	}
	if exists, _ := r.siteOf(org).observed.collection(org.Status.Collection); !exists {
		return true
	}
	name, key := org.PasswordSource()
	m, err := r.secretMetadata(ctx, types.NamespacedName{Namespace: r.CredentialsNamespace, Name: name})
	if err != nil {
		return true
	}
	return r.verifiedFingerprint(org, m, key) == ""
}

// readySince reports whether org became Ready after (about) taken: what
// it wrote may be missing from an observation taken then. Condition times
// have a resolution of one second.
func readySince(org *tenancyv1alpha1.Organization, taken time.Time) bool {
	ready := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
	return ready != nil && !ready.LastTransitionTime.Time.Before(taken.Truncate(time.Second).Add(-time.Second))
}
