package restapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/tokens"
)

// Server is the REST API. It is a manager Runnable that does not need
// leadership: every replica serves.
type Server struct {
	cfg    Config
	client client.Client // writes as tenancyv1alpha1.FieldManagerAPI
	// reader reads Organizations from the apiserver with their managedFields.
	reader  client.Reader
	store   Store
	keys    *tokens.SecretKeyStore
	issuer  *tokens.Issuer
	limiter *limiter // per client network, unauthenticated endpoints
	writes  *limiter // per organization, authenticated writes
	slots   password.Slots
	// dummyHash is verified for unknown emails, so they cost the same time.
	dummyHash string
	metrics   *metrics
	log       logr.Logger
	api       huma.API
	handler   http.Handler
	now       func() time.Time
	// listening is true while Start's listener accepts connections.
	listening atomic.Bool
}

type ctxKey int

const (
	clientNetworkKey ctxKey = iota
	// responseHeadersKey holds a func(name, value string) that sets a
	// header of the answer (handlers only get a context.Context).
	responseHeadersKey
)

// Dependencies are what the server uses besides its configuration.
type Dependencies struct {
	// Client is the manager's client: cached reads of Organizations and of
	// Secrets in the credentials namespace, direct writes (made under the
	// field manager tenancyv1alpha1.FieldManagerAPI).
	Client client.Client
	// Reader reads from the apiserver, bypassing the cache: the API checks
	// an Organization's managedFields (which the cache strips) before it
	// writes. Default: Client, which must then keep managedFields.
	Reader client.Reader
	// Metadata reads Secrets' metadata from the cache (the manager's
	// cache, which holds Secrets as metadata only); nil: every signing-key
	// lookup reads the Secret through Client.
	Metadata client.Reader
	Store    Store
	// Registry receives the API's metrics (nil: none are registered).
	Registry prometheus.Registerer
	Log      logr.Logger
	// HashSlots bounds argon2id work, shared with the controller in one
	// process; default: Config.HashConcurrency slots of the API's own.
	HashSlots password.Slots
}

// New builds the server.
func New(cfg Config, d Dependencies) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.HashSlots == nil {
		d.HashSlots = password.NewSlots(cfg.HashConcurrency)
	}
	c, store, log := client.WithFieldOwner(d.Client, tenancyv1alpha1.FieldManagerAPI), d.Store, d.Log
	if d.Reader == nil {
		d.Reader = d.Client
	}
	m, err := newMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	dummy, err := password.Hash("not a real password, never matches", cfg.HashParams)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, client: c, reader: d.Reader, store: store, metrics: m, log: log, dummyHash: dummy, now: time.Now,
		keys: &tokens.SecretKeyStore{Client: c, Live: d.Reader, Metadata: d.Metadata, Namespace: cfg.SigningKeysNamespace, Name: cfg.SigningKeysSecret,
			Rotation: cfg.KeyRotation, TokenLifetime: cfg.AccessTokenTTL},
		issuer:  &tokens.Issuer{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.AccessTokenTTL, Leeway: cfg.ClockSkew},
		limiter: newLimiter(cfg.LoginRate, cfg.LoginBurst, cfg.MaxClients),
		writes:  newLimiter(cfg.WriteRate, cfg.WriteBurst, cfg.MaxClients),
		slots:   d.HashSlots,
	}
	s.issuer.Now = func() time.Time { return s.now() }
	mux := http.NewServeMux()
	hc := huma.DefaultConfig("org-operator tenant admin API", "v1")
	hc.Info.Description = "Log in as an organization's admin, read, update and delete your own organization, log out. " +
		"Errors are RFC 9457 problem documents (application/problem+json)."
	hc.CreateHooks = nil // no $schema links in bodies
	hc.Transformers = append(hc.Transformers, problemBody)
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityBearer: {Type: "http", Scheme: "bearer", BearerFormat: "JWT (EdDSA, typ at+jwt)"},
	}
	hc.DocsPath = "" // served from the binary instead of a CDN (docs.go)
	s.api = humago.New(mux, hc)
	registerDocs(mux, hc.Info.Title)
	s.api.UseMiddleware(s.observe, s.limitPerNetwork, validationAs400)
	s.registerAuth()
	s.registerOrganizations()
	s.registerAccess()
	s.registerMisc()
	documentValidationAs400(s.api.OpenAPI())
	documentAccepted(s.api.OpenAPI(), opSignup, opPatchOrganization)
	documentContract(s.api.OpenAPI())
	s.handler = securityHeaders(mux)
	return s, nil
}

// Handler serves the API (for tests and benchmarks).
func (s *Server) Handler() http.Handler { return s.handler }

// NeedLeaderElection is false: every replica serves the API.
func (s *Server) NeedLeaderElection() bool { return false }

// Start makes sure the signing keys exist, then serves until ctx is done and
// shuts down gracefully. It also rotates keys and removes expired sessions
// and stale login counters periodically.
func (s *Server) Start(ctx context.Context) error {
	if err := s.ensureKeys(ctx); err != nil {
		return err
	}
	srv := &http.Server{
		Addr: s.cfg.BindAddress, Handler: s.handler,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: s.cfg.ChangeTimeout + 15*time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", s.cfg.BindAddress)
	if err != nil {
		return fmt.Errorf("REST API: %w", err)
	}
	if s.cfg.TLSCertFile != "" {
		if srv.TLSConfig, err = s.watchCertificate(ctx); err != nil {
			return errors.Join(err, ln.Close())
		}
	}
	s.listening.Store(true)
	defer s.listening.Store(false)
	go s.housekeeping(ctx)
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.log.Info("REST API serving", "address", ln.Addr().String(), "tls", s.cfg.TLSCertFile != "", "signup", s.cfg.Signup)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// watchCertificate loads the API's certificate and key and keeps them
// current: a renewed certificate (cert-manager rewrites the mounted Secret)
// is served to new connections within seconds, without a restart. A
// certificate that cannot be read at start is an error; a renewal that
// cannot be read keeps the previous certificate (and is logged).
func (s *Server) watchCertificate(ctx context.Context) (*tls.Config, error) {
	cw, err := certwatcher.New(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("REST API certificate: %w", err)
	}
	cw = cw.WithWatchInterval(certificatePoll)
	go func() {
		if err := cw.Start(ctx); err != nil {
			s.log.Error(err, "watching the REST API's certificate files; renewals are not picked up")
		}
	}()
	return &tls.Config{GetCertificate: cw.GetCertificate, MinVersion: tls.VersionTLS12}, nil
}

// certificatePoll is how often the certificate files are read again, besides
// the file-system notifications.
const certificatePoll = 5 * time.Second

// ErrNotListening is Listening's answer before Start listens and after it returns.
var ErrNotListening = errors.New("the REST API is not listening yet (signing keys being ensured, or shutting down)")

// Listening reports ErrNotListening unless the API accepts connections: a
// readiness check, so that a replica just started gets no API traffic
// before its listener exists.
func (s *Server) Listening() error {
	if !s.listening.Load() {
		return ErrNotListening
	}
	return nil
}

// ensureKeys creates or rotates the signing keys, retrying every 2 s while
// the apiserver is unreachable; it gives up only when ctx ends.
func (s *Server) ensureKeys(ctx context.Context) error {
	return wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := s.keys.Ensure(ctx, s.now()); err != nil {
			s.log.Error(err, "signing keys not ready; retrying")
			return false, nil
		}
		return true, nil
	})
}

func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(s.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		if err := s.keys.Ensure(ctx, now); err != nil {
			s.log.Error(err, "rotating signing keys")
		}
		if n, err := s.store.DeleteExpiredSessions(ctx, now.Add(-s.cfg.AccessTokenTTL)); err != nil {
			s.log.Error(err, "removing expired sessions")
		} else if n > 0 {
			s.log.V(1).Info("removed expired sessions", "count", n)
		}
		if _, err := s.store.DeleteStaleLoginAttempts(ctx, now.Add(-s.cfg.Lockout.Window-s.cfg.Lockout.Max)); err != nil {
			s.log.Error(err, "removing stale login counters")
		}
		if _, err := s.store.DeleteSignupsBefore(ctx, now.Add(-time.Hour)); err != nil {
			s.log.Error(err, "removing sign-up records older than the hourly cap's window")
		}
	}
}

// observe records request durations and passes the client IP to handlers.
func (s *Server) observe(ctx huma.Context, next func(huma.Context)) {
	start := time.Now()
	hc := huma.WithValue(ctx, clientNetworkKey, clientNetwork(ctx.RemoteAddr(), forwardedFor(ctx), s.cfg.TrustedProxies))
	next(huma.WithValue(hc, responseHeadersKey, ctx.SetHeader))
	route := "unknown"
	if op := ctx.Operation(); op != nil {
		route = op.Path
	}
	s.metrics.duration.WithLabelValues(route, ctx.Method(), strconv.Itoa(ctx.Status())).Observe(time.Since(start).Seconds())
}

// forwardedFor is every X-Forwarded-For line of the request, in order,
// joined as one list: a proxy may add a line of its own rather than extend
// the last, and reading only the first line would let a client put its
// own address in front of the one the proxy saw.
func forwardedFor(ctx huma.Context) string {
	var lines []string
	ctx.EachHeader(func(name, value string) {
		if http.CanonicalHeaderKey(name) == "X-Forwarded-For" {
			lines = append(lines, value)
		}
	})
	return strings.Join(lines, ",")
}

// securityHeaders sets conservative headers on every response; the API
// answers are never cached.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !isDocs(r.URL.Path) { // the docs page sets its own (docs.go)
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("Cache-Control", "no-store")
		}
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		next.ServeHTTP(w, r)
	})
}
