// Command manager runs the org-operator: the Organization controller and,
// beside it, the tenant-admin REST API.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/api"
	orgcontroller "github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(tenancyv1alpha1.AddToScheme(scheme))
}

func main() {
	opts, err := parseOptions(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		// One clear line, no stack trace: this is a configuration mistake.
		fmt.Fprintf(os.Stderr, "org-operator: %v\n", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	if err := run(ctrl.SetupSignalHandler(), opts); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, opts *options) error {
	log := ctrl.Log.WithName("setup")
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, managerOptions(opts))
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	commands := mongostore.NewCommandCounter()
	metrics.Registry.MustRegister(commands.Collector())
	mongoOpts := opts.mongo
	mongoOpts.Monitor = commands.Monitor()
	store, err := mongostore.Connect(mongoOpts)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close(context.Background()) }()

	err = orgcontroller.Add(ctx, mgr, orgcontroller.Config{
		Store:                   store,
		CredentialsNamespace:    opts.credentialsNamespace,
		ResyncPeriod:            opts.resyncPeriod,
		MaxConcurrentReconciles: opts.maxConcurrentReconciles,
		SharedCollection:        opts.sharedCollection,
		MaxDedicatedCollections: opts.maxDedicatedCollections,
	})
	if err != nil {
		return fmt.Errorf("set up controller: %w", err)
	}
	if opts.api.BindAddress != "0" {
		server, err := api.New(opts.api, mgr.GetClient(), store, metrics.Registry, ctrl.Log.WithName("api"))
		if err != nil {
			return fmt.Errorf("set up REST API: %w", err)
		}
		if err := mgr.Add(server); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("starting manager", "database", store.Database(), "credentialsNamespace", opts.credentialsNamespace)
	return mgr.Start(ctx)
}

// managerOptions caches Secrets only in the credentials namespace, strips
// managedFields from every cached object and serves metrics securely.
func managerOptions(opts *options) ctrl.Options {
	var tlsOpts []func(*tls.Config)
	if !opts.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   opts.metricsAddr,
		SecureServing: opts.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if opts.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: opts.probeAddr,
		LeaderElection:         opts.leaderElect,
		LeaderElectionID:       "org-operator.tenancy.org-operator.io",
		Cache:                  orgcontroller.CacheOptions(opts.credentialsNamespace),
	}
}
