package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/devenv/managerproc"
	"github.com/org-operator/org-operator/internal/devenv/postgres"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/operator"
)

// benchEnv is the benchmark's world: a control plane, the store as its own
// process (over SQLite or a throwaway PostgreSQL), and the real manager
// binary as its own process, each measurable through /proc.
type benchEnv struct {
	dir        string
	cp         *envtest.Environment
	k8s        client.Client
	kubeconfig string
	postgres   *proc.Process
	store      *ferretdb.Process
	storeURI   string
	// second is the second deployment's store (-backends 2), else nil.
	second      *ferretdb.Process
	manager     *proc.Process
	metricsURL  string
	probeURL    string
	managerBin  string
	managerArgs []string
	resync      time.Duration
}

const credentialsNamespace = tenancyv1alpha1.DefaultCredentialsNamespace

func startEnv(backend string, resync time.Duration, managerArgs []string) (*benchEnv, error) {
	dir, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return nil, err
	}
	e := &benchEnv{dir: dir, managerBin: filepath.Join(controlplane.RepoRoot(), "bin", "manager"), resync: resync, managerArgs: managerArgs}
	if err := e.startControlPlane(); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	if err := e.startStore(backend); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	return e, nil
}

func (e *benchEnv) startControlPlane() error {
	cp, cfg, err := controlplane.Start()
	if err != nil {
		return err
	}
	e.cp = cp
	if e.k8s, err = client.New(cfg, client.Options{Scheme: operator.Scheme}); err != nil {
		return err
	}
	e.kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.kubeconfig, cp.KubeConfig, 0o600); err != nil {
		return err
	}
	return controlplane.CreateNamespaces(context.Background(), e.k8s)
}

// startStore starts bin/ferretdb over SQLite in the temporary folder, or over
// a PostgreSQL 15 started there (fsync off: a benchmark, not a database).
// Authentication stays off: the benchmark measures the operator, not SCRAM.
func (e *benchEnv) startStore(backend string) error {
	o := ferretdb.ProcessOptions{Binary: filepath.Join(controlplane.RepoRoot(), "bin", "ferretdb"),
		LogPath: filepath.Join(e.dir, "ferretdb.log")}
	switch backend {
	case "sqlite":
		o.Backend, o.Dir = ferretdb.SQLite, filepath.Join(e.dir, "ferretdb")
	case "postgresql":
		pg, err := postgres.Start(context.Background(), e.dir)
		if err != nil {
			return err
		}
		e.postgres = pg.Process
		o.Backend, o.PostgreSQLURL = ferretdb.PostgreSQL, pg.URL
	default:
		return fmt.Errorf("-backend must be sqlite or postgresql")
	}
	p, err := ferretdb.StartProcess(o)
	if err != nil {
		return err
	}
	e.store, e.storeURI = p, p.URI()
	return nil
}

// startManager starts the real manager binary, with plain-HTTP metrics for
// the benchmark to scrape, and waits until it is ready.
func (e *benchEnv) startManager() error {
	// The Go runtime's memory settings reach the manager, as a container's
	// limit does through the Deployment (MEMORY_LIMIT, in bytes).
	var env []string
	for _, name := range []string{"MEMORY_LIMIT", "GOMEMLIMIT", "GOGC"} {
		if v := os.Getenv(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	p, err := managerproc.Start(context.Background(), managerproc.Options{Binary: e.managerBin, Kubeconfig: e.kubeconfig,
		MongoURI: e.storeURI, LogPath: filepath.Join(e.dir, "manager.log"), Metrics: true, ReadyTimeout: 2 * time.Minute, Env: env,
		Args: append([]string{"--leader-elect=false", "--credentials-namespace=" + credentialsNamespace,
			"--resync-period=" + e.resync.String()}, e.managerArgs...)})
	if err != nil {
		return err
	}
	e.manager = p.Process
	e.metricsURL, e.probeURL = p.MetricsURL+"/metrics", p.ProbeURL+"/readyz"
	return nil
}

func (e *benchEnv) stopManager() error {
	if e.manager == nil {
		return nil
	}
	err := e.manager.Stop(syscall.SIGTERM, 30*time.Second)
	e.manager = nil
	return err
}

func (e *benchEnv) stop() error {
	errs := []error{e.stopManager()}
	if e.store != nil {
		errs = append(errs, e.store.Stop())
	}
	if e.second != nil {
		errs = append(errs, e.second.Stop())
	}
	if e.postgres != nil {
		errs = append(errs, e.postgres.Stop(syscall.SIGTERM, 30*time.Second))
	}
	if e.cp != nil {
		errs = append(errs, e.cp.Stop())
	}
	if os.Getenv("BENCH_KEEP") == "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// etcdDBSize is the size of etcd's database file: what counts against
// etcd's quota (2 GiB by default) until a defragmentation.
func (e *benchEnv) etcdDBSize() (int64, error) {
	fi, err := os.Stat(filepath.Join(e.cp.ControlPlane.Etcd.DataDir, "member", "snap", "db"))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// apiserverRSS is the kube-apiserver's resident memory.
func (e *benchEnv) apiserverRSS() (int64, error) {
	for _, pid := range proc.Descendants(os.Getpid()) {
		if proc.Name(pid) == "kube-apiserver" {
			rss, _, err := proc.RSS(pid)
			return rss, err
		}
	}
	return 0, errors.New("no kube-apiserver among the benchmark's processes")
}
