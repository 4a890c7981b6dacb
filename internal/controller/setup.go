package controller

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/backend"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is what the controller needs besides the manager.
type Config struct {
	Store                TenantStore
	CredentialsNamespace string
	// ResyncPeriod is how often the bulk observation checks every Ready
	// organization for drift (with +-10% jitter).
	ResyncPeriod            time.Duration
	MaxConcurrentReconciles int
	// HashParams default to password.DefaultParams.
	HashParams *password.Params
	// HashSlots bounds concurrent argon2id work in the process (shared with
	// the REST API); default: one slot per reconcile worker.
	HashSlots password.Slots
	// SharedCollection defaults to tenancyv1alpha1.DefaultSharedCollection.
	SharedCollection string
	// MaxDedicatedCollections caps dedicated collections; 0 is unlimited.
	MaxDedicatedCollections int
	// MigrationBatchSize defaults to DefaultMigrationBatchSize.
	MigrationBatchSize int
	// AutoPromoteDocuments is the number of documents at which a
	// spec.tenancy: Auto organization leaves the shared collection for a
	// dedicated one; default DefaultAutoPromoteDocuments.
	AutoPromoteDocuments int64
	// MaxConcurrentPromotions bounds Auto promotions in flight; default
	// DefaultMaxConcurrentPromotions.
	MaxConcurrentPromotions int
	// ClusterID identifies this cluster in the ownership ledger (the UID of
	// the kube-system namespace unless --cluster-id says otherwise).
	ClusterID string
	// ProtectedSecrets are the operator's own Secrets (signing keys, MongoDB
	// URI) that spec.admin.passwordSecretRef may not name.
	ProtectedSecrets []string
	// Registry receives the controller's metrics (nil: not registered).
	Registry prometheus.Registerer
	// Access, when set, holds application access's roles: the controller
	// keeps each organization's roles where its documents are (read-only
	// while they move) and drops them with it.
	Access *access.Server
	// Backends, when set, holds the MongoBackends' deployments: each becomes
	// a site with its own observer loop and budget. Store is the default
	// site (tenancyv1alpha1.DefaultBackend) either way.
	Backends *backend.Registry
}

// CacheOptions caches the Secrets of the credentials namespace (and, from
// other namespaces, those selected by others: the operator's own signing
// keys), and strips managedFields from every cached object but sign-up
// Organizations (a few, capped by --signup-max-total), whose field managers
// tell when the platform declares them (reconcileSignupTakeover). Secrets
// are watched as metadata only (the controllers' watches say so, and the
// manager's client reads whole Secrets from the apiserver), without
// kubectl's last-applied-configuration annotation, which holds a Secret
// applied with kubectl in clear.
func CacheOptions(credentialsNamespace string, others map[string]cache.Config) cache.Options {
	namespaces := map[string]cache.Config{}
	for ns, c := range others {
		namespaces[ns] = c
	}
	namespaces[credentialsNamespace] = cache.Config{} // all of them, even when the operator's namespace is the same
	return cache.Options{
		DefaultTransform: stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Namespaces: namespaces, Transform: stripSecretMetadata},
		},
	}
}

// stripManagedFields drops managedFields from a cached object, except from
// an Organization created by sign-up.
func stripManagedFields(obj any) (any, error) {
	if org, ok := obj.(*tenancyv1alpha1.Organization); ok && org.SignedUp() {
		return obj, nil
	}
	return cache.TransformStripManagedFields()(obj)
}

// stripSecretMetadata drops managedFields and the last-applied
// configuration from a cached Secret (or its metadata).
func stripSecretMetadata(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		if _, ok := m.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
			a := maps.Clone(m.GetAnnotations())
			delete(a, corev1.LastAppliedConfigAnnotation)
			m.SetAnnotations(a)
		}
	}
	return cache.TransformStripManagedFields()(obj)
}

// Add registers the Organization controller and its bulk observer with mgr.
// The manager's cache must come from CacheOptions(cfg.CredentialsNamespace, ...).
func Add(ctx context.Context, mgr ctrl.Manager, cfg Config) error {
	r := newReconciler(mgr, cfg)
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return err
	}
	r.metrics = m
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(newOrganizationCollector(mgr.GetCache(), r.budget)); err != nil {
			return fmt.Errorf("organization metrics: %w", err)
		}
	}
	informer, err := mgr.GetCache().GetInformer(ctx, &tenancyv1alpha1.Organization{})
	if err != nil {
		return err
	}
	if _, err := informer.AddEventHandler(r.budget.eventHandler()); err != nil {
		return fmt.Errorf("budget: %w", err)
	}
	events := make(chan event.GenericEvent, 1024)
	obs := &observer{r: r, period: cfg.ResyncPeriod, events: events}
	if err := mgr.Add(obs); err != nil {
		return err
	}
	r.orgInformer, r.siteChanged = informer, obs.siteChanged
	if err := r.followBackends(ctx, cfg.Backends); err != nil {
		return err
	}
	return r.SetupWithManager(ctx, mgr, events, controller.Options{
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
		RateLimiter:             NewRateLimiter(),
		UsePriorityQueue:        ptr.To(true),
	})
}

func newReconciler(mgr ctrl.Manager, cfg Config) *OrganizationReconciler {
	params := password.DefaultParams
	if cfg.HashParams != nil {
		params = *cfg.HashParams
	}
	if cfg.HashSlots == nil {
		cfg.HashSlots = password.NewSlots(cfg.MaxConcurrentReconciles)
	}
	if cfg.SharedCollection == "" {
		cfg.SharedCollection = tenancyv1alpha1.DefaultSharedCollection
	}
	observed := newObservation(2 * cfg.ResyncPeriod)
	budget := newCollectionBudget(cfg.MaxDedicatedCollections)
	r := &OrganizationReconciler{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		SecretCache:          mgr.GetCache(),
		Scheme:               mgr.GetScheme(),
		Recorder:             mgr.GetEventRecorder("org-operator"),
		Store:                &writeThrough{TenantStore: cfg.Store, observed: observed, budget: budget},
		CredentialsNamespace: cfg.CredentialsNamespace,
		HashParams:           params,
		HashSlots:            cfg.HashSlots,
		SharedCollection:     cfg.SharedCollection,
		MigrationBatchSize:   cfg.MigrationBatchSize,
		placement:            newPlacementPolicy(cfg.AutoPromoteDocuments, cfg.MaxConcurrentPromotions),
		ClusterID:            cfg.ClusterID,
		ProtectedSecrets:     cfg.ProtectedSecrets,
		Access:               cfg.Access,
		budget:               budget,
		observed:             observed,
		selfWrites:           newSelfWrites(),
	}
	r.addDefaultSite()
	return r
}

// addDefaultSite makes the manager's own deployment (Store) the site
// tenancyv1alpha1.DefaultBackend.
func (r *OrganizationReconciler) addDefaultSite() {
	r.sites.m = map[string]*site{tenancyv1alpha1.DefaultBackend: {name: tenancyv1alpha1.DefaultBackend,
		store: r.Store, observed: r.observed, budget: r.budget, shared: r.SharedCollection, sharedIndexes: &r.sharedIndexes}}
}

// followBackends makes a site of every deployment of the registry, now and
// whenever it changes.
func (r *OrganizationReconciler) followBackends(ctx context.Context, backends *backend.Registry) error {
	if backends == nil {
		return nil
	}
	r.backends = backends
	log := logf.FromContext(ctx).WithName("backends")
	backends.OnChange(func(name string) {
		if name == tenancyv1alpha1.DefaultBackend {
			return
		}
		if err := r.connectSite(name); err != nil {
			log.Error(err, "following a MongoDB backend", "backend", name)
		}
	})
	for _, name := range backends.Names() {
		if name != tenancyv1alpha1.DefaultBackend {
			if err := r.connectSite(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// lowPriority enqueues the observer's events below new and changed
// Organizations, which the priority queue then reconciles first.
func lowPriority() handler.TypedEventHandler[client.Object, reconcile.Request] {
	return handler.Funcs{
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}
			if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
				pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(handler.LowPriority)}, req)
				return
			}
			q.Add(req)
		},
	}
}
