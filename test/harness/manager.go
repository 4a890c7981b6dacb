// Package harness runs the operator's manager in-process against a real
// apiserver (envtest) and a real MongoDB wire-protocol server (FerretDB), the
// way cmd/main.go wires it, and counts what it writes. It is test support.
package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/api"
	orgcontroller "github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Scheme knows the core types and Organizations.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(tenancyv1alpha1.AddToScheme(Scheme))
}

// Options configures a test manager.
type Options struct {
	MongoURI             string
	Database             string
	CredentialsNamespace string
	// ResyncPeriod defaults to 10 minutes.
	ResyncPeriod time.Duration
	// ServerSelectionTimeout defaults to 1s so outages are noticed quickly.
	ServerSelectionTimeout time.Duration
	// MaxConcurrentReconciles defaults to 4.
	MaxConcurrentReconciles int
	// MaxDedicatedCollections, MigrationBatchSize and MigrationHook are
	// passed to the controller (see controller.Config).
	MaxDedicatedCollections int
	MigrationBatchSize      int
	MigrationHook           func(ctx context.Context, organization string, step orgcontroller.MigrationStep) error
	// API, when set, also runs the REST API with this configuration on a
	// free loopback port (BindAddress and CredentialsNamespace are filled in).
	API *api.Config
}

// Manager is a running manager and its counters.
type Manager struct {
	Manager   ctrl.Manager
	Store     *mongostore.Store
	Commands  *mongostore.CommandCounter
	APIWrites *WriteCounter
	// APIServer, APIURL and APIMetrics (its Prometheus registry) are set
	// when Options.API was.
	APIServer  *api.Server
	APIURL     string
	APIMetrics *prometheus.Registry

	cancel context.CancelFunc
	done   chan error
}

// StartManager starts the controller as cmd/main.go does, but in-process.
func StartManager(cfg *rest.Config, o Options) (*Manager, error) {
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = 10 * time.Minute
	}
	if o.ServerSelectionTimeout == 0 {
		o.ServerSelectionTimeout = time.Second
	}
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = 4
	}
	writes := &WriteCounter{}
	mcfg := rest.CopyConfig(cfg)
	mcfg.Wrap(writes.wrap)
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme:                 Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:                  orgcontroller.CacheOptions(o.CredentialsNamespace),
	})
	if err != nil {
		return nil, err
	}
	commands := mongostore.NewCommandCounter()
	store, err := mongostore.Connect(mongostore.Options{
		URI: o.MongoURI, Database: o.Database, Monitor: commands.Monitor(),
		ServerSelectionTimeout: o.ServerSelectionTimeout, OperationTimeout: 3 * o.ServerSelectionTimeout,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = orgcontroller.Add(ctx, mgr, orgcontroller.Config{
		Store: store, CredentialsNamespace: o.CredentialsNamespace, ResyncPeriod: o.ResyncPeriod,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		MaxDedicatedCollections: o.MaxDedicatedCollections, MigrationBatchSize: o.MigrationBatchSize,
		MigrationHook: o.MigrationHook,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	m := &Manager{Manager: mgr, Store: store, Commands: commands, APIWrites: writes, cancel: cancel, done: make(chan error, 1)}
	if o.API != nil {
		if err := m.addAPI(*o.API, o.CredentialsNamespace); err != nil {
			cancel()
			return nil, err
		}
	}
	go func() { m.done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return nil, errors.Join(errors.New("manager cache did not sync"), <-m.done)
	}
	if m.APIURL != "" {
		if err := waitReady(m.APIURL+"/readyz", 30*time.Second); err != nil {
			_ = m.Stop()
			return nil, err
		}
	}
	return m, nil
}

func (m *Manager) addAPI(cfg api.Config, credentialsNamespace string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.BindAddress = l.Addr().String()
	_ = l.Close()
	cfg.CredentialsNamespace = credentialsNamespace
	m.APIMetrics = prometheus.NewRegistry()
	srv, err := api.New(cfg, m.Manager.GetClient(), m.Store, m.APIMetrics, ctrl.Log.WithName("api"))
	if err != nil {
		return err
	}
	m.APIServer, m.APIURL = srv, "http://"+cfg.BindAddress
	return m.Manager.Add(srv)
}

func waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last error %v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the manager and waits for it.
func (m *Manager) Stop() error {
	m.cancel()
	err := <-m.done
	_ = m.Store.Close(context.Background())
	return err
}

// WriteCounter counts the requests that change something in the apiserver.
type WriteCounter struct{ n atomic.Int64 }

// Count is the number of POST, PUT, PATCH and DELETE requests sent.
func (w *WriteCounter) Count() int64 { return w.n.Load() }

func (w *WriteCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			w.n.Add(1)
		}
		return rt.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
