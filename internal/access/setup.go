package access

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// Config is what the access controller needs besides the manager.
type Config struct {
	// Server holds the tenants' users (the tenant database's deployment).
	Server *Server
	// Endpoint is where applications connect (hosts and options, no credentials).
	Endpoint Endpoint
	// CredentialsNamespace holds the access records.
	CredentialsNamespace string
	// RotationGrace is how long a replaced user keeps working; default DefaultRotationGrace.
	RotationGrace time.Duration
	// ResyncPeriod is how often a Ready access is reconciled again (its
	// connection Secret written again, which repairs one changed or deleted
	// behind the operator's back); default 10 minutes.
	ResyncPeriod time.Duration
	// MaxConcurrentReconciles defaults to 2.
	MaxConcurrentReconciles int
	// Registry receives the metrics (nil: not registered).
	Registry prometheus.Registerer
}

// organizationIndex indexes OrganizationAccess objects by spec.organization
// and status.organization (the REST API lists an organization's bindings
// through it).
const organizationIndex = tenancyv1alpha1.IndexAccessOrganization

// ErrNoServer is returned by Add without a Server.
var ErrNoServer = errors.New("application access needs a MongoDB server (Config.Server)")

// Add registers the OrganizationAccess controller with mgr. The
// Organization controller must be registered first (it adds the
// RenamedFromIndex this controller reads).
func Add(ctx context.Context, mgr ctrl.Manager, cfg Config) error {
	if cfg.Server == nil {
		return ErrNoServer
	}
	if cfg.RotationGrace <= 0 {
		cfg.RotationGrace = DefaultRotationGrace
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 10 * time.Minute
	}
	if cfg.MaxConcurrentReconciles <= 0 {
		cfg.MaxConcurrentReconciles = 2
	}
	m, err := newMetrics(cfg.Registry, mgr.GetCache())
	if err != nil {
		return err
	}
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("org-operator"),
		cfg: cfg, now: time.Now, metrics: m}
	err = mgr.GetFieldIndexer().IndexField(ctx, &tenancyv1alpha1.OrganizationAccess{}, organizationIndex, func(obj client.Object) []string {
		a := obj.(*tenancyv1alpha1.OrganizationAccess)
		if a.Status.Organization != "" && a.Status.Organization != a.Spec.Organization {
			return []string{a.Spec.Organization, a.Status.Organization}
		}
		return []string{a.Spec.Organization}
	})
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&tenancyv1alpha1.OrganizationAccess{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&tenancyv1alpha1.Organization{}, handler.EnqueueRequestsFromMapFunc(r.accessesOfOrganization)).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.accessesInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.MaxConcurrentReconciles}).
		Named("organizationaccess").
		Complete(r)
}

// accessesOfOrganization maps an Organization (any change: its spec.access,
// its location, a move, a rename, its deletion) to the accesses naming it,
// or naming the organization it was renamed from.
func (r *Reconciler) accessesOfOrganization(ctx context.Context, obj client.Object) []reconcile.Request {
	org := obj.(*tenancyv1alpha1.Organization)
	names := map[string]bool{org.Name: true}
	for _, n := range []string{org.Spec.RenamedFrom, org.Status.RenamedFrom} {
		if n != "" {
			names[n] = true
		}
	}
	var reqs []reconcile.Request
	for name := range names {
		var list tenancyv1alpha1.OrganizationAccessList
		if err := r.List(ctx, &list, client.MatchingFields{organizationIndex: name}); err != nil {
			logf.FromContext(ctx).Error(err, "listing accesses of an organization", "organization", name)
			continue
		}
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// accessesInNamespace maps a Namespace whose labels changed (a selector
// may now match it, or no longer) to the accesses in it.
func (r *Reconciler) accessesInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var list tenancyv1alpha1.OrganizationAccessList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetName())); err != nil {
		logf.FromContext(ctx).Error(err, "listing accesses of a namespace", "namespace", obj.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
