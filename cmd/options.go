package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/internal/restapi"
)

// options is the manager's configuration, from flags and, for connection
// settings, environment variables (a flag wins over its variable).
type options struct {
	operator operator.Options
	zap      zap.Options
	// output is `manager audit`'s format: table or json.
	output string
}

// parseOptions parses the manager's args; getenv supplies MONGODB_URI and
// POD_NAMESPACE. Errors are one line, fit to print as they are.
func parseOptions(args []string, getenv func(string) string) (*options, error) {
	o, fs := newFlagSet("manager", getenv)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, o.validate()
}

// parseAuditOptions parses `manager audit`'s args: the manager's flags (the
// audit connects the same way) and -o.
func parseAuditOptions(args []string, getenv func(string) string) (*options, error) {
	o, fs := newFlagSet("manager audit", getenv)
	fs.StringVar(&o.output, "o", "table", "Output format: table or json.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.output != "table" && o.output != "json" {
		return nil, fmt.Errorf("-o must be table or json, got %q", o.output)
	}
	return o, o.validate()
}

// newFlagSet binds every manager flag, with the documented defaults.
func newFlagSet(name string, getenv func(string) string) (*options, *flag.FlagSet) {
	o := &options{operator: operator.DefaultOptions()}
	op := &o.operator
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&op.MetricsBindAddress, "metrics-bind-address", op.MetricsBindAddress,
		"Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	fs.BoolVar(&op.SecureMetrics, "metrics-secure", op.SecureMetrics,
		"Serve metrics over HTTPS with authentication and authorization (TokenReview/SubjectAccessReview).")
	fs.StringVar(&op.MetricsCertDir, "metrics-cert-path", "",
		"Folder holding tls.crt and tls.key for the secure metrics endpoint, e.g. a mounted cert-manager Secret (renewals are "+
			"picked up); empty: a self-signed certificate, which a scraper can only skip verifying.")
	fs.BoolVar(&op.EnableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Rapid Reset and Stream Cancellation CVEs).")
	fs.StringVar(&op.HealthProbeBindAddress, "health-probe-bind-address", op.HealthProbeBindAddress, "Address the /healthz and /readyz probes bind to.")
	fs.StringVar(&op.PprofBindAddress, "pprof-bind-address", "0", "Address serving Go's pprof profiles (for diagnosis; 0 disables).")
	fs.BoolVar(&op.LeaderElection, "leader-elect", false,
		"Enable leader election, so only one replica runs the controller (the deployed manager turns it on).")
	fs.DurationVar(&op.LeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a leader's Lease lasts without renewal; a standby takes over after it (a SIGTERMed leader gives it up at once).")
	fs.DurationVar(&op.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it gives up leading (below the lease duration).")
	fs.DurationVar(&op.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "How often replicas try to take or renew the Lease.")

	fs.StringVar(&op.Mongo.URI, "mongodb-uri", getenv("MONGODB_URI"),
		"MongoDB connection string (env MONGODB_URI). Required.")
	fs.StringVar(&op.Mongo.Database, "mongodb-database", envOr(getenv, "MONGODB_DATABASE", op.Mongo.Database),
		"MongoDB database holding tenant collections and admin records (env MONGODB_DATABASE).")
	fs.Uint64Var(&op.Mongo.MaxPoolSize, "mongodb-max-pool-size", op.Mongo.MaxPoolSize, "Maximum MongoDB connections.")
	fs.Uint64Var(&op.Mongo.MinPoolSize, "mongodb-min-pool-size", op.Mongo.MinPoolSize, "Minimum idle MongoDB connections kept open.")
	fs.DurationVar(&op.Mongo.OperationTimeout, "mongodb-operation-timeout", op.Mongo.OperationTimeout,
		"Timeout of each single MongoDB call.")
	fs.DurationVar(&op.Mongo.ServerSelectionTimeout, "mongodb-server-selection-timeout", op.Mongo.ServerSelectionTimeout,
		"How long a MongoDB call waits for a reachable server before failing with MongoUnavailable.")
	fs.DurationVar(&op.Mongo.ConnectTimeout, "mongodb-connect-timeout", op.Mongo.ConnectTimeout,
		"Timeout for establishing one MongoDB connection.")

	fs.StringVar(&op.Namespace, "operator-namespace", envOr(getenv, "POD_NAMESPACE", op.Namespace),
		"The operator's own namespace: its leader-election Lease and the REST API's signing keys (default: the pod's namespace "+
			"from POD_NAMESPACE, else org-operator-system).")
	fs.StringVar(&op.Controller.CredentialsNamespace, "credentials-namespace", op.Controller.CredentialsNamespace,
		"Namespace of the tenants' credentials Secrets, apart from the operator's own Secrets.")
	fs.DurationVar(&op.Controller.ResyncPeriod, "resync-period", op.Controller.ResyncPeriod,
		"How often a Ready Organization is checked for drift (collection dropped, admin record deleted).")
	fs.IntVar(&op.Controller.MaxConcurrentReconciles, "max-concurrent-reconciles", op.Controller.MaxConcurrentReconciles,
		"Organizations reconciled in parallel (each password hash takes 19 MiB of memory).")
	fs.StringVar(&op.Controller.SharedCollection, "shared-collection", op.Controller.SharedCollection,
		"Collection holding the documents of every Shared organization (each carries an organization field).")
	fs.IntVar(&op.Controller.MaxDedicatedCollections, "max-dedicated-collections", op.Controller.MaxDedicatedCollections,
		"Most dedicated collections (org_*) in the database; a new Dedicated organization beyond it is Stalled (0: unlimited).")
	fs.Int64Var(&op.Controller.AutoPromoteDocuments, "auto-promote-documents", op.Controller.AutoPromoteDocuments,
		"Documents at which a spec.tenancy: Auto organization is moved from the shared collection to a dedicated one (never back).")
	fs.IntVar(&op.Controller.MaxConcurrentPromotions, "max-concurrent-promotions", op.Controller.MaxConcurrentPromotions,
		"Most Auto promotions (moves to a dedicated collection) under way at once.")
	fs.StringVar(&op.Controller.ClusterID, "cluster-id", "",
		"This cluster's identity in the MongoDB ownership ledger (default: the UID of the kube-system namespace). "+
			"Set it explicitly, and keep it when rebuilding the cluster, so a rebuilt control plane finds its tenants again.")
	fs.IntVar(&op.Controller.MigrationBatchSize, "migration-batch-size", op.Controller.MigrationBatchSize,
		"Documents copied per batch when a tenant's documents move (tenancy switch, rename); progress is recorded after each batch.")
	fs.Func("access-roles", "What application access (OrganizationAccess) does about MongoDB custom roles: auto (use them "+
		"where the server has them; elsewhere users get no role and isolation NotEnforced), required (refuse every access on a "+
		"server without roles) or disabled (turn application access off). Default auto.", func(v string) error {
		m, err := access.ParseMode(v)
		op.Access.Mode = m
		return err
	})
	fs.StringVar(&op.Access.URI, "access-uri", getenv("ACCESS_URI"),
		"The MongoDB URI applications are given in their connection Secrets (hosts and options; credentials in it are "+
			"ignored) (env ACCESS_URI); default: --mongodb-uri without its credentials.")
	fs.DurationVar(&op.Access.RotationGrace, "access-rotation-grace", op.Access.RotationGrace,
		"How long the MongoDB user a rotation replaced keeps working, so applications can load the new Secret.")
	bindAPIFlags(fs, &op.API)
	o.zap.BindFlags(fs)
	return o, fs
}

func (o *options) validate() error {
	op := &o.operator
	if err := mongostore.ValidateURI(op.Mongo.URI); err != nil {
		return err
	}
	op.API.CredentialsNamespace, op.API.SigningKeysNamespace = op.Controller.CredentialsNamespace, op.Namespace
	if err := op.API.Validate(); err != nil {
		return err
	}
	if err := metricsCertificateExists(op.MetricsCertDir); err != nil {
		return err
	}
	if err := mongostore.ValidateDatabaseName(op.Mongo.Database); err != nil {
		return fmt.Errorf("--mongodb-database: %w", err)
	}
	if err := mongostore.ValidateCollectionName(op.Controller.SharedCollection, tenancyv1alpha1.DedicatedCollectionPrefix); err != nil {
		return fmt.Errorf("--shared-collection: %w", err)
	}
	if op.Access.URI != "" {
		if _, err := access.ParseEndpoint(op.Access.URI); err != nil {
			return fmt.Errorf("--access-uri: %w", err)
		}
	}
	if op.RetryPeriod <= 0 || op.RenewDeadline <= op.RetryPeriod || op.LeaseDuration <= op.RenewDeadline {
		return fmt.Errorf("leader election needs --leader-elect-lease-duration > --leader-elect-renew-deadline > "+
			"--leader-elect-retry-period > 0, got %s, %s, %s", op.LeaseDuration, op.RenewDeadline, op.RetryPeriod)
	}
	if op.Access.RotationGrace < time.Second {
		return fmt.Errorf("--access-rotation-grace must be at least 1s, got %s", op.Access.RotationGrace)
	}
	c := op.Controller
	switch {
	case c.CredentialsNamespace == "" || op.Namespace == "":
		return errors.New("--credentials-namespace and --operator-namespace must not be empty")
	case c.ResyncPeriod < time.Second:
		return fmt.Errorf("--resync-period must be at least 1s, got %s", c.ResyncPeriod)
	case c.MaxConcurrentReconciles < 1:
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", c.MaxConcurrentReconciles)
	case c.MigrationBatchSize < 1:
		return fmt.Errorf("--migration-batch-size must be at least 1, got %d", c.MigrationBatchSize)
	case c.MaxDedicatedCollections < 0:
		return errors.New("--max-dedicated-collections must not be negative")
	case c.AutoPromoteDocuments < 1:
		return fmt.Errorf("--auto-promote-documents must be at least 1, got %d", c.AutoPromoteDocuments)
	case c.MaxConcurrentPromotions < 1:
		return fmt.Errorf("--max-concurrent-promotions must be at least 1, got %d", c.MaxConcurrentPromotions)
	case op.Mongo.MinPoolSize > op.Mongo.MaxPoolSize:
		return errors.New("--mongodb-min-pool-size must not exceed --mongodb-max-pool-size")
	}
	return nil
}

// bindAPIFlags registers the REST API's flags; c holds the defaults.
func bindAPIFlags(fs *flag.FlagSet, c *restapi.Config) {
	fs.StringVar(&c.BindAddress, "api-bind-address", c.BindAddress, "Address the tenant-admin REST API binds to; 0 disables it.")
	fs.StringVar(&c.TLSCertFile, "api-tls-cert-file", "", "TLS certificate for the REST API (with --api-tls-key-file); plain HTTP when unset.")
	fs.StringVar(&c.TLSKeyFile, "api-tls-key-file", "", "TLS private key for the REST API.")
	fs.Func("signup", `Self-service sign-up through POST /v1/organizations: "disabled" (default) or "open".`, func(v string) error {
		c.Signup = restapi.SignupMode(v)
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
	fs.IntVar(&c.Lockout.GlobalThreshold, "api-lockout-global-threshold", c.Lockout.GlobalThreshold,
		"Failed logins from all client networks together that lock an account everywhere (0: never); "+
			"--api-lockout-threshold counts per client network.")
	fs.IntVar(&c.Lockout.GlobalNetworks, "api-lockout-global-networks", c.Lockout.GlobalNetworks,
		"Client networks that must have failed within the lockout window for the account-wide lock to hold (at least 2).")
	fs.Func("api-trusted-proxies",
		"Comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (default: none; the header is ignored).",
		func(v string) error {
			c.TrustedProxies = nil
			for _, s := range strings.Split(v, ",") {
				p, err := netip.ParsePrefix(strings.TrimSpace(s))
				if err != nil {
					return fmt.Errorf("--api-trusted-proxies: %w", err)
				}
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
			return nil
		})
	fs.Float64Var(&c.WriteRate, "api-write-rate", c.WriteRate, "Per-organization authenticated writes (PATCH, DELETE) per second.")
	fs.IntVar(&c.WriteBurst, "api-write-burst", c.WriteBurst, "Per-organization burst of authenticated writes.")
	fs.DurationVar(&c.SessionMaxAge, "api-session-max-age", c.SessionMaxAge, "Absolute lifetime of a login session, however often it is refreshed.")
	fs.IntVar(&c.SignupMaxPerHour, "signup-max-per-hour", c.SignupMaxPerHour,
		"Most organizations created through sign-up per hour, all replicas together (0: no cap).")
	fs.IntVar(&c.SignupMaxTotal, "signup-max-total", c.SignupMaxTotal, "Most organizations created through sign-up in total (0: no cap).")
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

// metricsCertificateExists checks that dir (--metrics-cert-path, when set)
// holds tls.crt and tls.key: without them the metrics server would quietly
// fall back to a self-signed certificate that no scraper can verify.
func metricsCertificateExists(dir string) error {
	if dir == "" {
		return nil
	}
	for _, name := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("--metrics-cert-path: %w", err)
		}
	}
	return nil
}
