package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/backend"
)

// reconcileBackend chooses, once, the deployment a new organization's data
// goes to and records it in status.backend, before anything is written
// anywhere: spec.backend when set (a MongoBackend that exists, or
// "default"); for a rename, the backend of the organization it is renamed
// from; among the MongoBackends matching spec.placement.backendSelector, the
// usable one with the most dedicated-collection headroom (recorded in
// status at once: the choice depends on the moment); else the default
// MongoBackend (ElectDefault), or the manager's own deployment. A placed
// organization keeps its backend: a changed default moves nobody; a
// spec.backend that differs from it moves the tenant (checkBackendMove). Organizations placed before backends existed keep an
// empty status.backend (the default one; nothing is rewritten for them).
func (r *OrganizationReconciler) reconcileBackend(ctx context.Context, t *tenant) error {
	org := t.org
	if org.Status.Backend != "" || org.Status.Collection != "" {
		if current := org.BackendOf(); org.Spec.Backend != "" && org.Spec.Backend != current {
			return r.checkBackendMove(ctx, org, current)
		}
		return nil
	}
	name, chosen, err := r.chooseBackend(ctx, org)
	if err != nil {
		return err
	}
	org.Status.Backend = name
	if chosen {
		return r.persistStatus(ctx, t)
	}
	return nil
}

// checkBackendMove lets an organization move to the backend its spec now
// names (reconcileCollection moves it) when that backend exists and the
// move is one this version makes: application access (spec.access) and a
// rename in the same step stall, with nothing moved.
func (r *OrganizationReconciler) checkBackendMove(ctx context.Context, org *tenancyv1alpha1.Organization, current string) error {
	if err := r.checkBackendExists(ctx, org.Spec.Backend); err != nil {
		return err
	}
	if org.Spec.Access != nil && org.Status.Migration == nil {
		return stalled(tenancyv1alpha1.ReasonBackendMoveUnsupported,
			"spec.backend is %s but the organization's data lives on backend %s: an organization with application access "+
				"(spec.access) cannot move between backends yet; set spec.backend back to %s (nothing was moved)",
			org.Spec.Backend, current, current)
	}
	return nil
}

// destination is the site the spec wants the tenant's data on: the one
// spec.backend names, else where it is.
func (r *OrganizationReconciler) destination(org *tenancyv1alpha1.Organization) *site {
	if b := org.Spec.Backend; b != "" {
		return r.siteNamed(b)
	}
	return r.siteOf(org)
}

// chooseBackend returns the backend of a new organization; chosen is true
// when it came from comparing backends (selector), not from the spec or
// the default.
func (r *OrganizationReconciler) chooseBackend(ctx context.Context, org *tenancyv1alpha1.Organization) (string, bool, error) {
	if name := org.Spec.Backend; name != "" {
		return name, false, r.checkBackendExists(ctx, name)
	}
	if old := org.Spec.RenamedFrom; old != "" {
		prev := &tenancyv1alpha1.Organization{}
		err := r.Get(ctx, client.ObjectKey{Name: old}, prev)
		if err != nil && !apierrors.IsNotFound(err) {
			return "", false, err
		}
		if b := prev.BackendOf(); err == nil && b != "" {
			return b, false, nil
		}
	}
	var list tenancyv1alpha1.MongoBackendList
	if err := r.List(ctx, &list); err != nil {
		return "", false, err
	}
	if p := org.Spec.Placement; p != nil && p.BackendSelector != nil {
		name, err := r.selectBackend(list.Items, p.BackendSelector)
		return name, true, err
	}
	if name := backend.ElectDefault(list.Items); name != "" {
		return name, false, nil
	}
	return tenancyv1alpha1.DefaultBackend, false, nil
}

// checkBackendExists stalls an organization whose spec.backend names no
// MongoBackend, or one being deleted.
func (r *OrganizationReconciler) checkBackendExists(ctx context.Context, name string) error {
	if name == tenancyv1alpha1.DefaultBackend {
		return nil
	}
	b := &tenancyv1alpha1.MongoBackend{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, b)
	switch {
	case apierrors.IsNotFound(err):
		return stalled(tenancyv1alpha1.ReasonBackendNotFound,
			"spec.backend names MongoBackend %s, which does not exist: create it, or name another backend (or %q)", name, tenancyv1alpha1.DefaultBackend)
	case err != nil:
		return err
	case !b.DeletionTimestamp.IsZero():
		return stalled(tenancyv1alpha1.ReasonBackendDeleting,
			"spec.backend names MongoBackend %s, which is being deleted: name another backend", name)
	}
	return nil
}

// selectBackend picks, among the live MongoBackends matching the selector
// whose deployment answers, the one with the most dedicated-collection
// headroom (no cap counts as unlimited), ties broken by name.
func (r *OrganizationReconciler) selectBackend(backends []tenancyv1alpha1.MongoBackend, ls *metav1.LabelSelector) (string, error) {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return "", stalled(tenancyv1alpha1.ReasonNoBackendMatches, "spec.placement.backendSelector is not a valid selector: %s", err)
	}
	best, bestRoom, matched := "", -1, []string{}
	for i := range backends {
		b := &backends[i]
		if !b.DeletionTimestamp.IsZero() || !sel.Matches(labels.Set(b.Labels)) {
			continue
		}
		matched = append(matched, b.Name)
		room, usable := r.headroom(b.Name)
		if usable && (room > bestRoom || room == bestRoom && b.Name < best) {
			best, bestRoom = b.Name, room
		}
	}
	if best != "" {
		return best, nil
	}
	why := "no MongoBackend matches spec.placement.backendSelector"
	if len(matched) > 0 {
		why = fmt.Sprintf("the MongoBackends matching spec.placement.backendSelector (%s) do not answer yet", strings.Join(matched, ", "))
	}
	return "", &waitingError{Reason: tenancyv1alpha1.ReasonNoBackendMatches, Err: errors.New(why)}
}

// headroom is how many more dedicated collections a site takes (MaxInt:
// no cap), and whether it is usable: connected, observed, answering.
func (r *OrganizationReconciler) headroom(name string) (int, bool) {
	s, ok := r.sites.get(name)
	if !ok {
		return 0, false
	}
	if _, current := s.observed.taken(); !current || s.observed.storeUnavailable() != nil {
		return 0, false
	}
	s.budget.mu.Lock()
	limit := s.budget.max
	s.budget.mu.Unlock()
	if limit == 0 {
		return math.MaxInt, true
	}
	return max(limit-s.budget.used(), 0), true
}
