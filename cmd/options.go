package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/org-operator/org-operator/internal/api"
	orgcontroller "github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// defaultCredentialsNamespace is used when neither the flag nor POD_NAMESPACE is set.
const defaultCredentialsNamespace = "org-operator-system"

// options is the manager's configuration, from flags and, for connection
// settings, environment variables (a flag wins over its variable).
type options struct {
	metricsAddr   string
	secureMetrics bool
	enableHTTP2   bool
	probeAddr     string
	leaderElect   bool

	mongo                   mongostore.Options
	credentialsNamespace    string
	resyncPeriod            time.Duration
	maxConcurrentReconciles int
	sharedCollection        string
	maxDedicatedCollections int

	api api.Config

	zap zap.Options
}

// parseOptions parses args; getenv supplies MONGODB_URI and POD_NAMESPACE.
// Errors are one line, fit to print as they are.
func parseOptions(args []string, getenv func(string) string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization (TokenReview/SubjectAccessReview).")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Rapid Reset and Stream Cancellation CVEs).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Enable leader election, so only one replica runs the controller (the deployed manager turns it on).")

	fs.StringVar(&o.mongo.URI, "mongodb-uri", getenv("MONGODB_URI"),
		"MongoDB connection string (env MONGODB_URI). Required.")
	fs.StringVar(&o.mongo.Database, "mongodb-database", envOr(getenv, "MONGODB_DATABASE", mongostore.DefaultDatabase),
		"MongoDB database holding tenant collections and admin records (env MONGODB_DATABASE).")
	fs.Uint64Var(&o.mongo.MaxPoolSize, "mongodb-max-pool-size", mongostore.DefaultMaxPoolSize, "Maximum MongoDB connections.")
	fs.Uint64Var(&o.mongo.MinPoolSize, "mongodb-min-pool-size", 0, "Minimum idle MongoDB connections kept open.")
	fs.DurationVar(&o.mongo.OperationTimeout, "mongodb-operation-timeout", mongostore.DefaultOperationTimeout,
		"Timeout of each single MongoDB call.")
	fs.DurationVar(&o.mongo.ServerSelectionTimeout, "mongodb-server-selection-timeout", mongostore.DefaultServerSelectionTimeout,
		"How long a MongoDB call waits for a reachable server before failing with MongoUnavailable.")
	fs.DurationVar(&o.mongo.ConnectTimeout, "mongodb-connect-timeout", mongostore.DefaultConnectTimeout,
		"Timeout for establishing one MongoDB connection.")

	fs.StringVar(&o.credentialsNamespace, "credentials-namespace", envOr(getenv, "POD_NAMESPACE", defaultCredentialsNamespace),
		"Namespace of the admins' credentials Secrets (default: the pod's namespace from POD_NAMESPACE, else org-operator-system).")
	fs.DurationVar(&o.resyncPeriod, "resync-period", 10*time.Minute,
		"How often a Ready Organization is checked for drift (collection dropped, admin record deleted).")
	fs.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 4,
		"Organizations reconciled in parallel (each password hash takes 19 MiB of memory).")
	fs.StringVar(&o.sharedCollection, "shared-collection", orgcontroller.DefaultSharedCollection,
		"Collection holding the documents of every Shared organization (each carries an organization field).")
	fs.IntVar(&o.maxDedicatedCollections, "max-dedicated-collections", 5000,
		"Most dedicated collections (org_*) in the database; a new Dedicated organization beyond it is Stalled (0: unlimited).")
	bindAPIFlags(fs, &o.api)
	o.zap.BindFlags(fs)

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, o.validate()
}

func (o *options) validate() error {
	if err := mongostore.ValidateURI(o.mongo.URI); err != nil {
		return err
	}
	o.api.CredentialsNamespace = o.credentialsNamespace
	if err := o.api.Validate(); err != nil {
		return err
	}
	switch {
	case o.credentialsNamespace == "":
		return errors.New("--credentials-namespace must not be empty")
	case o.resyncPeriod < time.Second:
		return fmt.Errorf("--resync-period must be at least 1s, got %s", o.resyncPeriod)
	case o.maxConcurrentReconciles < 1:
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.maxConcurrentReconciles)
	case o.maxDedicatedCollections < 0:
		return errors.New("--max-dedicated-collections must not be negative")
	case o.mongo.MinPoolSize > o.mongo.MaxPoolSize:
		return errors.New("--mongodb-min-pool-size must not exceed --mongodb-max-pool-size")
	}
	return nil
}

// bindAPIFlags registers the REST API's flags; defaults come from api.DefaultConfig.
func bindAPIFlags(fs *flag.FlagSet, c *api.Config) {
	*c = api.DefaultConfig()
	fs.StringVar(&c.BindAddress, "api-bind-address", c.BindAddress, "Address the tenant-admin REST API binds to; 0 disables it.")
	fs.StringVar(&c.TLSCertFile, "api-tls-cert-file", "", "TLS certificate for the REST API (with --api-tls-key-file); plain HTTP when unset.")
	fs.StringVar(&c.TLSKeyFile, "api-tls-key-file", "", "TLS private key for the REST API.")
	fs.Func("signup", `Self-service sign-up through POST /v1/organizations: "disabled" (default) or "open".`, func(v string) error {
		c.Signup = api.SignupMode(v)
		return nil
	})
	fs.StringVar(&c.Issuer, "api-issuer", c.Issuer, "Access tokens' iss claim.")
	fs.StringVar(&c.Audience, "api-audience", c.Audience, "Access tokens' aud claim.")
	fs.DurationVar(&c.AccessTokenTTL, "api-access-token-ttl", c.AccessTokenTTL, "Access token lifetime.")
	fs.DurationVar(&c.RefreshTokenTTL, "api-refresh-token-ttl", c.RefreshTokenTTL, "Refresh token lifetime (renewed on each use).")
	fs.StringVar(&c.SigningKeysSecret, "api-signing-keys-secret", c.SigningKeysSecret,
		"Secret (in the credentials namespace) holding the Ed25519 signing keys; created on first start.")
	fs.DurationVar(&c.KeyRotation, "api-signing-key-rotation", c.KeyRotation, "How long a signing key signs before a new one replaces it.")
	fs.Float64Var(&c.LoginRate, "api-login-rate", c.LoginRate, "Per-IP requests per second on login, refresh and sign-up.")
	fs.IntVar(&c.LoginBurst, "api-login-burst", c.LoginBurst, "Per-IP burst on login, refresh and sign-up.")
	fs.IntVar(&c.Lockout.Threshold, "api-lockout-threshold", c.Lockout.Threshold, "Failed logins that lock an account.")
	fs.DurationVar(&c.Lockout.Base, "api-lockout-base", c.Lockout.Base, "First lockout; doubles with each further failure.")
	fs.DurationVar(&c.Lockout.Max, "api-lockout-max", c.Lockout.Max, "Longest single lockout.")
	fs.IntVar(&c.HashConcurrency, "api-hash-concurrency", c.HashConcurrency,
		"Concurrent password verifications; beyond it login answers 429 with Retry-After (default GOMAXPROCS).")
	fs.DurationVar(&c.ChangeTimeout, "api-change-timeout", c.ChangeTimeout,
		"How long PATCH and sign-up wait for a change to take effect before answering 202.")
}

func envOr(getenv func(string) string, name, fallback string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return fallback
}
