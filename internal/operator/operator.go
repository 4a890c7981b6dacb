// Package operator wires the org-operator: one controller-runtime manager
// with the Organization controller, the tenant-admin REST API, the MongoDB
// store, the health checks and the metrics. cmd/main.go runs it, and the
// test harness runs exactly the same wiring in-process.
package operator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/backend"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/restapi"
)

// Scheme knows the core types and Organizations.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(tenancyv1alpha1.AddToScheme(Scheme))
}

// LeaderElectionID names the Lease the replicas compete for.
const LeaderElectionID = "org-operator.tenancy.org-operator.io"

// Options is the whole configuration of an operator process.
type Options struct {
	// Mongo connects the store. Its Monitor is set by New (the command counter).
	Mongo mongostore.Options
	// Controller configures the Organization controller; its Store is set by New.
	Controller controller.Config
	// API configures the REST API; BindAddress "0" disables it. Its
	// CredentialsNamespace is taken from Controller, its
	// SigningKeysNamespace from Namespace.
	API restapi.Config
	// Access configures application access (OrganizationAccess).
	Access AccessOptions
	// Namespace is the operator's own namespace: the leader-election Lease
	// and the signing keys Secret (the tenants' Secrets are in
	// Controller.CredentialsNamespace).
	Namespace string

	LeaderElection bool
	// LeaseDuration, RenewDeadline and RetryPeriod time leader election
	// (zero: controller-runtime's 15s, 10s and 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// MetricsBindAddress ("0" disables), SecureMetrics (HTTPS with
	// authentication and authorization) and EnableHTTP2 configure the metrics endpoint.
	MetricsBindAddress string
	SecureMetrics      bool
	// MetricsCertDir holds tls.crt and tls.key for the secure metrics
	// endpoint (reloaded when they change); empty: a self-signed certificate.
	MetricsCertDir string
	EnableHTTP2    bool
	// HealthProbeBindAddress serves /healthz and /readyz ("0" disables).
	HealthProbeBindAddress string
	// PprofBindAddress serves Go's pprof profiles ("" or "0" disables).
	PprofBindAddress string

	// Registry receives the operator's own metrics; default: controller-runtime's
	// registry, which the metrics endpoint serves. Tests pass their own.
	Registry prometheus.Registerer
	// WrapStore, when set, wraps the store the controller uses; tests inject
	// faults through it (internal/testsupport/faultstore). Production leaves it nil.
	WrapStore func(controller.TenantStore) controller.TenantStore
	// WrapAccessStore, when set, wraps application access's store (tests).
	WrapAccessStore func(access.Store) access.Store
	// AllowSeveralInProcess lets one process run several operators (tests):
	// controller names need not be unique.
	AllowSeveralInProcess bool
	// Logger defaults to ctrl.Log.
	Logger logr.Logger
}

// AccessOptions configure application access.
type AccessOptions struct {
	// Mode is --access-roles (auto, required, disabled).
	Mode access.Mode
	// URI is where applications connect (--access-uri), credentials
	// ignored; empty: the store's URI without its credentials.
	URI string
	// RotationGrace is how long a rotated-out user keeps working.
	RotationGrace time.Duration
}

// DefaultOptions are the documented defaults; the manager's flags start
// from them and so does the test harness.
func DefaultOptions() Options {
	return Options{
		Mongo: mongostore.Options{
			Database:               mongostore.DefaultDatabase,
			OperationTimeout:       mongostore.DefaultOperationTimeout,
			ServerSelectionTimeout: mongostore.DefaultServerSelectionTimeout,
			ConnectTimeout:         mongostore.DefaultConnectTimeout,
			MaxPoolSize:            mongostore.DefaultMaxPoolSize,
		},
		Controller: controller.Config{
			CredentialsNamespace:    tenancyv1alpha1.DefaultCredentialsNamespace,
			ResyncPeriod:            10 * time.Minute,
			MaxConcurrentReconciles: 4,
			SharedCollection:        tenancyv1alpha1.DefaultSharedCollection,
			MaxDedicatedCollections: 5000,
			MigrationBatchSize:      controller.DefaultMigrationBatchSize,
			AutoPromoteDocuments:    controller.DefaultAutoPromoteDocuments,
			MaxConcurrentPromotions: controller.DefaultMaxConcurrentPromotions,
		},
		API:                    restapi.DefaultConfig(),
		Access:                 AccessOptions{Mode: access.ModeAuto, RotationGrace: access.DefaultRotationGrace},
		Namespace:              tenancyv1alpha1.DefaultOperatorNamespace,
		MetricsBindAddress:     "0",
		SecureMetrics:          true,
		HealthProbeBindAddress: ":8081",
	}
}

// Operator is a wired, not yet started, operator.
type Operator struct {
	Manager  ctrl.Manager
	Store    *mongostore.Store
	Commands *mongostore.CommandCounter
	// API is the REST API server; nil when disabled.
	API *restapi.Server
	// Backends holds the deployments that hold tenants: Store, as
	// tenancyv1alpha1.DefaultBackend, and one per connected MongoBackend.
	Backends *backend.Registry
	log      logr.Logger
}

// New builds the manager, connects the store (without waiting for it),
// registers the controller, the REST API, the health checks and the metrics.
// Nothing runs until Start. On error everything opened is closed again.
func New(cfg *rest.Config, o Options) (*Operator, error) {
	if o.Logger.GetSink() == nil {
		o.Logger = ctrl.Log
	}
	if o.Registry == nil {
		o.Registry = metrics.Registry
	}
	mgr, err := ctrl.NewManager(cfg, managerOptions(o))
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	commands := mongostore.NewCommandCounter()
	for _, c := range commands.Collectors() {
		if err := o.Registry.Register(c); err != nil {
			return nil, err
		}
	}
	o.Mongo.Monitor = commands.Monitor()
	store, err := mongostore.Connect(o.Mongo)
	if err != nil {
		return nil, err
	}
	op := &Operator{Manager: mgr, Store: store, Commands: commands, log: o.Logger.WithName("setup")}
	if err := op.register(o); err != nil {
		return nil, errors.Join(err, store.Close(context.Background()))
	}
	return op, nil
}

// ClusterIDNamespace is the namespace whose UID identifies the cluster in
// the ownership ledger unless a cluster id is configured.
const ClusterIDNamespace = metav1.NamespaceSystem

// ClusterID is the configured cluster id, else the UID of kube-system.
func ClusterID(ctx context.Context, r client.Reader, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: ClusterIDNamespace}, ns); err != nil {
		return "", fmt.Errorf("cluster id: reading namespace %s (or set --cluster-id): %w", ClusterIDNamespace, err)
	}
	return string(ns.UID), nil
}

func (op *Operator) register(o Options) error {
	id, err := ClusterID(context.Background(), op.Manager.GetAPIReader(), o.Controller.ClusterID)
	if err != nil {
		return err
	}
	o.Controller.ClusterID = id
	var tenants controller.TenantStore = op.Store
	if o.WrapStore != nil {
		tenants = o.WrapStore(tenants)
	}
	// One bound on argon2id work for the whole process: the controller's
	// hashing and the API's verifications share it.
	hashSlots := password.NewSlots(o.API.HashConcurrency)
	cc := o.Controller
	cc.Store = tenants
	cc.HashSlots = hashSlots
	cc.ProtectedSecrets = []string{o.API.SigningKeysSecret, tenancyv1alpha1.MongoDBSecret}
	cc.Registry = o.Registry
	var accessStore access.Store = op.Store
	if o.WrapAccessStore != nil {
		accessStore = o.WrapAccessStore(accessStore)
	}
	users := access.NewServer(accessStore, o.Access.Mode)
	cc.Access = users
	op.Backends = backend.NewRegistry(backend.Deployment{Name: tenancyv1alpha1.DefaultBackend, Store: op.Store,
		SharedCollection: cc.SharedCollection, MaxDedicated: cc.MaxDedicatedCollections})
	cc.Backends = op.Backends
	if err := o.Registry.Register(op.Backends.Collector()); err != nil {
		return fmt.Errorf("backend metrics: %w", err)
	}
	if err := controller.Add(context.Background(), op.Manager, cc); err != nil {
		return fmt.Errorf("set up controller: %w", err)
	}
	if err := backend.Add(op.Manager, backend.Config{Registry: op.Backends, SecretsNamespace: cc.CredentialsNamespace,
		Mongo: o.Mongo, Commands: op.Commands, ResyncPeriod: cc.ResyncPeriod}); err != nil {
		return fmt.Errorf("set up MongoBackend controller: %w", err)
	}
	if err := op.addAccess(o, users); err != nil {
		return fmt.Errorf("set up application access: %w", err)
	}
	if o.API.BindAddress != "0" {
		apiCfg := o.API
		apiCfg.CredentialsNamespace, apiCfg.SigningKeysNamespace = o.Controller.CredentialsNamespace, o.Namespace
		server, err := restapi.New(apiCfg, restapi.Dependencies{Client: op.Manager.GetClient(),
			Reader: op.Manager.GetAPIReader(), Metadata: op.Manager.GetCache(), Store: op.Store,
			Registry: o.Registry, Log: o.Logger.WithName("api"), HashSlots: hashSlots})
		if err != nil {
			return fmt.Errorf("set up REST API: %w", err)
		}
		if err := op.Manager.Add(server); err != nil {
			return err
		}
		op.API = server
	}
	return op.addProbes()
}

// addAccess registers the OrganizationAccess controller. Applications are
// given --access-uri, else the store's own URI without its credentials.
func (op *Operator) addAccess(o Options, users *access.Server) error {
	uri := o.Access.URI
	if uri == "" {
		uri = o.Mongo.URI
	}
	endpoint, err := access.ParseEndpoint(uri)
	if err != nil {
		return err
	}
	return access.Add(context.Background(), op.Manager, access.Config{
		Server: users, Endpoint: endpoint, CredentialsNamespace: o.Controller.CredentialsNamespace,
		RotationGrace: o.Access.RotationGrace, ResyncPeriod: o.Controller.ResyncPeriod,
		MaxConcurrentReconciles: o.Controller.MaxConcurrentReconciles, Registry: o.Registry,
	})
}

// Start runs the operator until ctx is done, then closes the store.
func (op *Operator) Start(ctx context.Context) error {
	op.log.Info("starting manager", "database", op.Store.Database())
	err := op.Manager.Start(ctx)
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range op.Backends.Names() {
		if d, ok := op.Backends.Get(name); ok && name != tenancyv1alpha1.DefaultBackend {
			err = errors.Join(err, d.Store.Close(closeCtx))
		}
	}
	return errors.Join(err, op.Store.Close(closeCtx))
}

// cacheOptions caches the Secrets of the credentials namespace and, of the
// operator's own namespace, only the signing keys (the manager may read no
// other Secret there: config/rbac).
func cacheOptions(o Options) cache.Options {
	return controller.CacheOptions(o.Controller.CredentialsNamespace, map[string]cache.Config{
		o.Namespace: {FieldSelector: fields.OneTermEqualSelector("metadata.name", o.API.SigningKeysSecret)},
	})
}

// managerOptions caches Secrets only in the credentials namespace (and the
// signing keys), strips managedFields from cached objects and serves
// metrics securely.
func managerOptions(o Options) ctrl.Options {
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   o.MetricsBindAddress,
		SecureServing: o.SecureMetrics,
		CertDir:       o.MetricsCertDir,
		TLSOpts:       tlsOpts,
	}
	if o.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if metricsOpts.BindAddress == "" {
		metricsOpts.BindAddress = "0"
	}
	probe := o.HealthProbeBindAddress
	if probe == "" {
		probe = "0"
	}
	return ctrl.Options{
		Scheme:                  Scheme,
		Metrics:                 metricsOpts,
		PprofBindAddress:        o.PprofBindAddress,
		HealthProbeBindAddress:  probe,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: o.Namespace,
		// A stopping leader gives the Lease up, so the other replica takes
		// over in a retry period instead of a lease duration. Safe: the
		// process exits once the manager has stopped.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 durationOrNil(o.LeaseDuration),
		RenewDeadline:                 durationOrNil(o.RenewDeadline),
		RetryPeriod:                   durationOrNil(o.RetryPeriod),
		Cache:                         cacheOptions(o),
		Controller:                    config.Controller{SkipNameValidation: ptr.To(o.AllowSeveralInProcess)},
		Client:                        clientOptions(),
		Logger:                        o.Logger,
	}
}

// clientOptions make the manager's client read Secrets from the apiserver:
// the cache holds Secrets as metadata only (controller.CacheOptions), and a
// whole Secret read through the cache would start an informer holding every
// Secret's data. The few paths that need a Secret's data read it this way;
// metadata reads go to the cache (mgr.GetCache()).
func clientOptions() client.Options {
	return client.Options{
		FieldOwner: tenancyv1alpha1.FieldManagerController,
		Cache:      &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}},
	}
}

// durationOrNil is d, or nil (controller-runtime's default) when zero.
func durationOrNil(d time.Duration) *time.Duration {
	if d == 0 {
		return nil
	}
	return &d
}
