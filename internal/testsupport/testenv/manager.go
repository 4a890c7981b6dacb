// Package testenv runs the operator in-process against a real apiserver
// (envtest) and a real MongoDB wire-protocol server (FerretDB), through the
// same wiring as cmd/main.go (internal/operator), and counts what it writes.
// It is test support.
package testenv

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/internal/restapi"
)

// Scheme knows the core types and Organizations.
var Scheme = operator.Scheme

// Options configures a test operator. Anything left zero has the
// production default (operator.DefaultOptions), except where noted.
type Options struct {
	MongoURI             string
	Database             string
	CredentialsNamespace string
	// OperatorNamespace defaults to the production default.
	OperatorNamespace string
	// ResyncPeriod defaults to 10 minutes.
	ResyncPeriod time.Duration
	// ServerSelectionTimeout defaults to 1s so outages are noticed quickly.
	ServerSelectionTimeout  time.Duration
	MaxConcurrentReconciles int
	MaxDedicatedCollections int
	MigrationBatchSize      int
	AutoPromoteDocuments    int64
	MaxConcurrentPromotions int
	// API, when set, also runs the REST API with this configuration on a
	// free loopback port (BindAddress and CredentialsNamespace are filled in).
	API *restapi.Config
	// WrapStore wraps the controller's store (fault injection, see internal/testsupport/faultstore).
	WrapStore func(controller.TenantStore) controller.TenantStore
	// ClusterID is --cluster-id; default: the kube-system namespace's UID.
	ClusterID string
	// AccessMode is --access-roles (default auto) and AccessRotationGrace
	// --access-rotation-grace (default 10 minutes).
	AccessMode          access.Mode
	AccessRotationGrace time.Duration
	// WrapAccessStore wraps application access's store (recording role
	// commands a server without roles would refuse).
	WrapAccessStore func(access.Store) access.Store
	// LeaderElection runs the manager with leader election (the Lease in
	// the operator namespace), as the Deployment does.
	LeaderElection bool
}

// InProcessManager is an operator running in the test process, and its counters.
type InProcessManager struct {
	Manager  ctrl.Manager
	Store    *mongostore.Store
	Commands *mongostore.CommandCounter
	// KubeWrites counts the writes the operator sends to the kube-apiserver.
	KubeWrites *WriteCounter
	// KubeReads records the reads (GET: get, list, watch) it sends.
	KubeReads *ReadLog
	// APIURL is the REST API's base URL, when Options.API was set.
	APIURL string
	// Metrics is the registry holding every metric of this operator.
	Metrics *prometheus.Registry

	cancel context.CancelFunc
	done   chan error
}

// operatorOptions turns test options into the operator's options.
func operatorOptions(o Options) (operator.Options, error) {
	opts := operator.DefaultOptions()
	opts.Mongo.URI, opts.Mongo.Database = o.MongoURI, o.Database
	opts.Mongo.ServerSelectionTimeout = o.ServerSelectionTimeout
	if opts.Mongo.ServerSelectionTimeout == 0 {
		opts.Mongo.ServerSelectionTimeout = time.Second
	}
	opts.Mongo.OperationTimeout = 3 * opts.Mongo.ServerSelectionTimeout
	c := &opts.Controller
	c.CredentialsNamespace = o.CredentialsNamespace
	setIfNonZero(&opts.Namespace, o.OperatorNamespace)
	setIfNonZero(&c.ResyncPeriod, o.ResyncPeriod)
	setIfNonZero(&c.MaxConcurrentReconciles, o.MaxConcurrentReconciles)
	setIfNonZero(&c.MaxDedicatedCollections, o.MaxDedicatedCollections)
	setIfNonZero(&c.MigrationBatchSize, o.MigrationBatchSize)
	setIfNonZero(&c.AutoPromoteDocuments, o.AutoPromoteDocuments)
	setIfNonZero(&c.MaxConcurrentPromotions, o.MaxConcurrentPromotions)
	opts.API.BindAddress = "0"
	if o.API != nil {
		port, err := proc.FreePort()
		if err != nil {
			return opts, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		opts.API = *o.API
		opts.API.BindAddress = addr
	}
	opts.HealthProbeBindAddress = "0"
	opts.WrapStore = o.WrapStore
	opts.WrapAccessStore = o.WrapAccessStore
	setIfNonZero(&opts.Access.Mode, o.AccessMode)
	setIfNonZero(&opts.Access.RotationGrace, o.AccessRotationGrace)
	opts.Controller.ClusterID = o.ClusterID
	opts.AllowSeveralInProcess = true
	opts.LeaderElection = o.LeaderElection
	return opts, nil
}

func setIfNonZero[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// StartInProcessManager starts the operator as cmd/main.go does, but in-process, and
// waits until its cache is synced and its REST API (if any) answers.
func StartInProcessManager(cfg *rest.Config, o Options) (*InProcessManager, error) {
	opts, err := operatorOptions(o)
	if err != nil {
		return nil, err
	}
	writes, reads := &WriteCounter{}, &ReadLog{}
	mcfg := rest.CopyConfig(cfg)
	mcfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return reads.wrap(writes.wrap(rt)) })
	reg := prometheus.NewRegistry()
	opts.Registry = reg
	op, err := operator.New(mcfg, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &InProcessManager{Manager: op.Manager, Store: op.Store, Commands: op.Commands, KubeWrites: writes, KubeReads: reads, Metrics: reg,
		cancel: cancel, done: make(chan error, 1)}
	if op.API != nil {
		m.APIURL = "http://" + opts.API.BindAddress
	}
	go func() { m.done <- op.Start(ctx) }()
	if !op.Manager.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return nil, errors.Join(errors.New("manager cache did not sync"), <-m.done)
	}
	if m.APIURL != "" {
		if err := proc.WaitHTTP(ctx, m.APIURL+"/readyz", nil, 30*time.Second); err != nil {
			return nil, errors.Join(err, m.Stop())
		}
	}
	return m, nil
}

// Stop stops the operator (which closes its store) and waits for it.
func (m *InProcessManager) Stop() error {
	m.cancel()
	return <-m.done
}

// WriteCounter counts the requests that change something in the kube-apiserver
// and remembers each one ("PATCH /api/v1/namespaces/x/secrets/y"), so that a
// failing count can say what was written.
type WriteCounter struct {
	mu     sync.Mutex
	writes []string
}

// Count is the number of POST, PUT, PATCH and DELETE requests sent.
func (w *WriteCounter) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int64(len(w.writes))
}

// Since lists the writes sent after the first n (a Count taken earlier).
func (w *WriteCounter) Since(n int64) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n >= int64(len(w.writes)) {
		return nil
	}
	return slices.Clone(w.writes[n:])
}

func (w *WriteCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			w.mu.Lock()
			w.writes = append(w.writes, req.Method+" "+req.URL.Path)
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// Read is one GET request: its path, query and Accept header (which says
// whether a list or watch asked for whole objects or metadata only).
type Read struct {
	Path, Query, Accept string
}

// ReadLog remembers every GET request sent to the kube-apiserver.
type ReadLog struct {
	mu    sync.Mutex
	reads []Read
}

// All lists the reads sent so far.
func (l *ReadLog) All() []Read {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reads)
}

func (l *ReadLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet {
			l.mu.Lock()
			l.reads = append(l.reads, Read{Path: req.URL.Path, Query: req.URL.RawQuery, Accept: req.Header.Get("Accept")})
			l.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
