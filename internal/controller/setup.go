package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
)

// Config is what the controller needs besides the manager.
type Config struct {
	Store                   TenantStore
	CredentialsNamespace    string
	ResyncPeriod            time.Duration
	MaxConcurrentReconciles int
	// HashParams default to password.DefaultParams.
	HashParams *password.Params
	// SharedCollection defaults to tenancyv1alpha1.DefaultSharedCollection.
	SharedCollection string
	// MaxDedicatedCollections caps dedicated collections; 0 is unlimited.
	MaxDedicatedCollections int
	// MigrationBatchSize defaults to DefaultMigrationBatchSize.
	MigrationBatchSize int
}

// CacheOptions caches Secrets only in the credentials namespace and strips
// managedFields from every cached object.
func CacheOptions(credentialsNamespace string) cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Namespaces: map[string]cache.Config{credentialsNamespace: {}}},
		},
	}
}

// Add registers the Organization controller with mgr. The manager's cache
// must come from CacheOptions(cfg.CredentialsNamespace).
func Add(ctx context.Context, mgr ctrl.Manager, cfg Config) error {
	params := password.DefaultParams
	if cfg.HashParams != nil {
		params = *cfg.HashParams
	}
	r := &OrganizationReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("org-operator"),
		Store:                   cfg.Store,
		CredentialsNamespace:    cfg.CredentialsNamespace,
		ResyncPeriod:            cfg.ResyncPeriod,
		HashParams:              params,
		SharedCollection:        cfg.SharedCollection,
		MaxDedicatedCollections: cfg.MaxDedicatedCollections,
		MigrationBatchSize:      cfg.MigrationBatchSize,
	}
	if r.SharedCollection == "" {
		r.SharedCollection = tenancyv1alpha1.DefaultSharedCollection
	}
	return r.SetupWithManager(ctx, mgr, controller.Options{
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
		RateLimiter:             NewRateLimiter(),
	})
}
