package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Defaults of automatic placement.
const (
	DefaultAutoPromoteDocuments    = 10000
	DefaultMaxConcurrentPromotions = 2
)

// placementPolicy is how spec.tenancy: Auto organizations are placed: in
// the shared collection until they hold threshold documents, then in a
// dedicated collection for good (no automatic demotion, so a tenant hovering
// at the threshold moves once), at most inFlight promotions at a time.
type placementPolicy struct {
	threshold int64
	inFlight  int
}

func newPlacementPolicy(threshold int64, inFlight int) placementPolicy {
	if threshold <= 0 {
		threshold = DefaultAutoPromoteDocuments
	}
	if inFlight <= 0 {
		inFlight = DefaultMaxConcurrentPromotions
	}
	return placementPolicy{threshold: threshold, inFlight: inFlight}
}

// hysteresis is the change in a tenant's document count worth recording in
// status: a tenth of the threshold. Smaller changes write nothing.
func (p placementPolicy) hysteresis() int64 { return max(p.threshold/10, 1) }

// worthRecording reports whether measured differs enough from what status
// holds to be written (or crosses the threshold).
func (p placementPolicy) worthRecording(recorded *tenancyv1alpha1.PlacementStatus, measured int64) bool {
	if recorded == nil {
		return true
	}
	diff := measured - recorded.Documents
	if diff < 0 {
		diff = -diff
	}
	return diff >= p.hysteresis() || (measured >= p.threshold) != (recorded.Documents >= p.threshold)
}

// needsLook reports whether the observer should enqueue a settled Auto
// organization: its measured size moved beyond the hysteresis, or it
// qualifies for promotion (checked again every period while it waits for
// the budget or a promotion slot).
func (r *OrganizationReconciler) needsPlacement(org *tenancyv1alpha1.Organization) bool {
	current, exists := currentLocation(org)
	if org.Spec.Tenancy != tenancyv1alpha1.TenancyAuto || !exists || !current.Shared() {
		return false
	}
	n, known := r.siteOf(org).observed.documents(current)
	return known && (n >= r.placement.threshold || r.placement.worthRecording(org.Status.Placement, n))
}

// placeAuto returns where an Auto organization's documents belong and
// records the decision in status.placement. A new organization starts
// shared; a dedicated one stays dedicated; a shared one is promoted when
// the latest observation counts at least the threshold, a promotion slot is
// free and the dedicated-collection budget has room. Otherwise it stays
// shared with the reason in status (never Stalled) and, when the budget is
// the obstacle, a Warning event.
func (r *OrganizationReconciler) placeAuto(ctx context.Context, t *tenant, current mongostore.Location, exists bool) mongostore.Location {
	org := t.org
	s := r.siteOf(org)
	shared := mongostore.Location{Collection: s.shared, Organization: org.Name}
	dedicated := mongostore.Location{Collection: tenancyv1alpha1.DedicatedCollection(org.Name)}
	switch {
	case !exists:
		r.setPlacement(org, tenancyv1alpha1.TenancyShared, nil,
			fmt.Sprintf("New organizations start shared; promoted at %d documents", r.placement.threshold))
		return shared
	case !current.Shared():
		if org.Status.Placement == nil || org.Status.Placement.Tenancy != tenancyv1alpha1.TenancyDedicated {
			r.setPlacement(org, tenancyv1alpha1.TenancyDedicated, nil, "Dedicated; never moved back automatically")
		}
		return current
	}
	n, known := s.observed.documents(current)
	if !known {
		return shared
	}
	measured := &n
	if !r.placement.worthRecording(org.Status.Placement, n) {
		measured = nil // keep the recorded count: a steady tenant writes nothing
	}
	if n < r.placement.threshold {
		r.setPlacement(org, tenancyv1alpha1.TenancyShared, measured,
			fmt.Sprintf("Shared: below the promotion threshold of %d documents", r.placement.threshold))
		return shared
	}
	if busy, err := r.promotionsInFlight(ctx); err != nil || busy >= r.placement.inFlight {
		r.setPlacement(org, tenancyv1alpha1.TenancyShared, measured, fmt.Sprintf(
			"Qualifies for a dedicated collection (%d documents); waiting: %d promotions are under way (--max-concurrent-promotions)",
			n, r.placement.inFlight))
		return shared
	}
	// Reserve the slot here, so the move's own budget check (startMigration)
	// finds it held and cannot stall an Auto tenant.
	if granted, _ := s.budget.reserve(org.Name); !granted {
		reason := fmt.Sprintf("Qualifies for a dedicated collection (%d documents) but --max-dedicated-collections is full; stays shared", n)
		if org.Status.Placement == nil || org.Status.Placement.Reason != reason {
			r.event(org, corev1.EventTypeWarning, EventPromotionDeferred, actionUpdate, "%s", reason)
		}
		r.setPlacement(org, tenancyv1alpha1.TenancyShared, measured, reason)
		return shared
	}
	r.setPlacement(org, tenancyv1alpha1.TenancyDedicated, &n,
		fmt.Sprintf("Promoted to a dedicated collection at %d documents (threshold %d); never moved back automatically", n, r.placement.threshold))
	r.event(org, corev1.EventTypeNormal, EventPromoted, actionUpdate,
		"Promoting to collection %s: %d documents reached the threshold of %d", dedicated.Collection, n, r.placement.threshold)
	r.metrics.promotions.Inc()
	return dedicated
}

// setPlacement records the decision; documents, when given, with the time
// of the observation that counted them.
func (r *OrganizationReconciler) setPlacement(org *tenancyv1alpha1.Organization, tenancy tenancyv1alpha1.Tenancy, documents *int64, reason string) {
	p := org.Status.Placement
	if p == nil {
		p = &tenancyv1alpha1.PlacementStatus{}
		org.Status.Placement = p
	}
	p.Tenancy, p.Reason = tenancy, reason
	if documents != nil {
		p.Documents = *documents
		if taken, ok := r.siteOf(org).observed.taken(); ok {
			at := metav1.NewTime(taken)
			p.MeasuredAt = &at
		}
	}
}

// promotionsInFlight counts Auto organizations whose move to a dedicated
// collection is under way, from the informer cache.
func (r *OrganizationReconciler) promotionsInFlight(ctx context.Context) (int, error) {
	var list tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		o := &list.Items[i]
		if o.Spec.Tenancy == tenancyv1alpha1.TenancyAuto && o.Status.Migration != nil && o.Status.Migration.Target.Organization == "" {
			n++
		}
	}
	return n, nil
}
