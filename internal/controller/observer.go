package controller

import (
	"context"
	"errors"
	"math/rand/v2"
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
}

// NeedLeaderElection is true: only the leader reconciles.
func (o *observer) NeedLeaderElection() bool { return true }

// Start runs passes until ctx is done.
func (o *observer) Start(ctx context.Context) error {
	for {
		next := o.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(next):
		}
	}
}

// pass takes one observation and enqueues what it shows needs work; it
// returns when the next pass is due.
func (o *observer) pass(ctx context.Context) time.Duration {
	log := logf.FromContext(ctx).WithName("observer")
	obs, err := o.r.Store.Observe(ctx, o.r.SharedCollection)
	if err != nil {
		if !mongostore.IsUnavailable(err) {
			log.Error(err, "observing MongoDB")
			return observerRetry
		}
		o.r.observed.fail(err)
		o.enqueue(ctx, func(org *tenancyv1alpha1.Organization) bool { return settled(org) })
		return observerRetry
	}
	o.audit(ctx, obs) // before set: afterwards reconciles amend obs
	o.repairIndexes(ctx, obs)
	o.r.observed.set(obs)
	o.r.budget.setRetained(obs, o.r.ClusterID)
	o.recordLegacyOwners(ctx)
	if err := o.r.Access.Refresh(ctx); err != nil {
		log.Error(err, "reading the application-access roles")
	}
	o.enqueue(ctx, func(org *tenancyv1alpha1.Organization) bool {
		return waitingForMongo(org) || settled(org) && (o.r.drifted(ctx, org, obs.Taken) || o.r.needsPlacement(org) || o.r.Access.Drifted(org))
	})
	return jitter(o.period)
}

// repairIndexes recreates the indexes the observation shows missing
// (dropped out of band: without the unique ones, two admin records could
// take one email), logs each repair and counts it; a failure is logged and
// retried on the next pass.
func (o *observer) repairIndexes(ctx context.Context, obs *mongostore.Observation) {
	log := logf.FromContext(ctx).WithName("observer")
	repaired, err := o.r.Store.RepairIndexes(ctx, obs, o.r.SharedCollection)
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
// is left as it is.
func (o *observer) recordLegacyOwners(ctx context.Context) {
	var list tenancyv1alpha1.OrganizationList
	if err := o.r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range list.Items {
		org := &list.Items[i]
		l, placed := currentLocation(org)
		if !placed || !settled(org) {
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
	ready := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
	if ready != nil && !ready.LastTransitionTime.Time.Before(taken.Truncate(time.Second).Add(-time.Second)) {
		return false
	}
	if exists, _ := r.observed.collection(org.Status.Collection); !exists {
		return true
	}
	name, key := org.PasswordSource()
	m, err := r.secretMetadata(ctx, types.NamespacedName{Namespace: r.CredentialsNamespace, Name: name})
	if err != nil {
		return true
	}
	return r.verifiedFingerprint(org, m, key) == ""
}
