package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/test/proc"
	"github.com/org-operator/org-operator/test/testenv"
)

// benchEnv is the benchmark's world: a control plane, the store as its own
// process (over SQLite or a throwaway PostgreSQL), and the real manager
// binary as its own process, each measurable through /proc.
type benchEnv struct {
	dir         string
	cp          *envtest.Environment
	k8s         client.Client
	kubeconfig  string
	postgres    *proc.Process
	store       *proc.Process
	storeURI    string
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
	e := &benchEnv{dir: dir, managerBin: filepath.Join(testenv.RepoRoot(), "bin", "manager"), resync: resync, managerArgs: managerArgs}
	if err := e.startControlPlane(); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	if err := e.startStore(backend); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	return e, nil
}

func (e *benchEnv) startControlPlane() error {
	cp, cfg, err := testenv.Start()
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
	return testenv.CreateNamespaces(context.Background(), e.k8s)
}

// startStore starts bin/ferretdb over SQLite in the temporary folder, or over
// a PostgreSQL 15 started there (fsync off: a benchmark, not a database).
func (e *benchEnv) startStore(backend string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-addr", addr}
	switch backend {
	case "sqlite":
		args = append(args, "-backend", "sqlite", "-dir", filepath.Join(e.dir, "ferretdb"))
	case "postgresql":
		url, err := e.startPostgres()
		if err != nil {
			return err
		}
		args = append(args, "-backend", "postgresql", "-postgresql-url", url)
	default:
		return fmt.Errorf("-backend must be sqlite or postgresql")
	}
	bin := filepath.Join(testenv.RepoRoot(), "bin", "ferretdb")
	if e.store, err = proc.Start(bin, args, os.Environ(), filepath.Join(e.dir, "ferretdb.log"), nil); err != nil {
		return err
	}
	e.storeURI = "mongodb://" + addr + "/"
	return waitListening(addr, e.store)
}

// pgBin is where Debian's PostgreSQL 15 keeps its programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// startPostgres runs initdb and postgres as the postgres user (PostgreSQL
// refuses to run as root) in the temporary folder, and returns the URL of a
// fresh database for FerretDB.
func (e *benchEnv) startPostgres() (string, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("the PostgreSQL backend needs Debian's postgresql-15 package (user postgres): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	as := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	pgDir := filepath.Join(e.dir, "pg")
	if err := os.MkdirAll(pgDir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(e.dir, 0o711); err != nil { // the postgres user must reach pgDir
		return "", err
	}
	if err := os.Chown(pgDir, uid, gid); err != nil {
		return "", err
	}
	initdb := exec.Command(filepath.Join(pgBin, "initdb"), "-D", filepath.Join(pgDir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
	initdb.SysProcAttr = as()
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	args := []string{"-D", filepath.Join(pgDir, "data"), "-p", strconv.Itoa(port), "-k", pgDir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "shared_buffers=256MB"}
	if e.postgres, err = proc.Start(filepath.Join(pgBin, "postgres"), args, nil, filepath.Join(e.dir, "postgres.log"), as()); err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListening(addr, e.postgres); err != nil {
		return "", err
	}
	createdb := exec.Command(filepath.Join(pgBin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "ferretdb")
	createdb.SysProcAttr = as()
	if out, err := createdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("createdb: %w: %s", err, out)
	}
	return fmt.Sprintf("postgres://postgres@%s/ferretdb", addr), nil
}

// startManager starts the real manager binary, with plain-HTTP metrics for
// the benchmark to scrape, and waits until it is ready.
func (e *benchEnv) startManager() error {
	mport, err := freePort()
	if err != nil {
		return err
	}
	pport, err := freePort()
	if err != nil {
		return err
	}
	args := append([]string{"--leader-elect=false", "--api-bind-address=0",
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(mport), "--metrics-secure=false",
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(pport),
		"--credentials-namespace=" + credentialsNamespace, "--resync-period=" + e.resync.String()}, e.managerArgs...)
	env := append(os.Environ(), "KUBECONFIG="+e.kubeconfig, "MONGODB_URI="+e.storeURI)
	if e.manager, err = proc.Start(e.managerBin, args, env, filepath.Join(e.dir, "manager.log"), nil); err != nil {
		return err
	}
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	e.probeURL = fmt.Sprintf("http://127.0.0.1:%d/readyz", pport)
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		if exited, err := e.manager.Exited(); exited {
			return false, fmt.Errorf("the manager exited (%v); see %s", err, e.manager.LogPath)
		}
		resp, err := http.Get(e.probeURL)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
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
	for _, p := range []*proc.Process{e.store, e.postgres} {
		if p != nil {
			errs = append(errs, p.Stop(syscall.SIGTERM, 30*time.Second))
		}
	}
	if e.cp != nil {
		errs = append(errs, e.cp.Stop())
	}
	if os.Getenv("BENCH_KEEP") == "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

func waitListening(addr string, p *proc.Process) error {
	return wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		if exited, err := p.Exited(); exited {
			return false, fmt.Errorf("%s exited (%v); see %s", p.Cmd.Path, err, p.LogPath)
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		return true, conn.Close()
	})
}
