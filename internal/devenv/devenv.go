// Package devenv runs the whole system locally the way `make dev` shows it:
// etcd and kube-apiserver (the test control-plane binaries, on loopback),
// FerretDB as its own process (bin/ferretdb, with users and SCRAM
// authentication: the manager connects as its own user) with its data kept on disk, the
// CRDs, and the real manager binary as its own process. The manager and the
// store can each be killed and started again on the same data. The e2e suite starts the same
// environment through this package and then drives it only from outside.
//
// It is development and test support: the manager binary never imports it.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/devenv/managerproc"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/password"
)

// CredentialsNamespace is where the manager keeps credentials Secrets in the
// local environment (the samples' Secret lives there too).
const CredentialsNamespace = tenancyv1alpha1.DefaultCredentialsNamespace

// Options configures the environment.
type Options struct {
	// Root is the repository root (CRDs, samples); default: the working directory.
	Root string
	// StateDir keeps the lock, logs, kubeconfig, env file and the data of
	// etcd and FerretDB; default Root/.dev.
	StateDir string
	// ManagerBinary is the manager to run; default Root/bin/manager.
	ManagerBinary string
	// FerretDBBinary is the store to run (FerretDB's cmd/ferretdb, built by
	// `make ferretdb`); default Root/bin/ferretdb.
	FerretDBBinary string
	// APIPort and MongoPort are fixed loopback ports (defaults 8082, 27018);
	// SecondMongoPort is the second deployment's (default 27019).
	APIPort         int
	MongoPort       int
	SecondMongoPort int
	// ManagerArgs are appended to the manager's command line.
	ManagerArgs []string
	// Log receives progress lines; default io.Discard.
	Log io.Writer
}

// Env is a running environment.
type Env struct {
	opts    Options
	lock    *os.File
	cp      *envtest.Environment
	mongo   *ferretdb.Process
	second  *ferretdb.Process
	manager *proc.Process
	// restarted holds control-plane processes started again by
	// RestartControlPlane (envtest only knows the first ones).
	restarted map[string]*proc.Process

	// Kubeconfig is the path of an admin kubeconfig for the apiserver.
	Kubeconfig string
	// MongoURI is the FerretDB connection string, with the operator's
	// user and password (FerretDB runs with authentication).
	MongoURI string
	// SecondMongoURI is the second deployment's (FerretDB on SQLite, with
	// authentication), which the sample MongoBackend SecondBackend names.
	SecondMongoURI string
	// APIURL is the base URL of the manager's REST API.
	APIURL string
	// EnvFile is the shell-sourceable file with KUBECONFIG, MONGODB_URI and ORG_API_URL.
	EnvFile string
	// ManagerLog is the manager's log file.
	ManagerLog string
	// ProbeURL is the base URL of the manager's probe port (/healthz, /readyz).
	ProbeURL string
}

// ErrAlreadyRunning is returned when another environment holds the lock.
var ErrAlreadyRunning = errors.New("another `make dev` is already running on this state directory")

func (o *Options) defaults() error {
	if o.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		o.Root = wd
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(o.Root, ".dev")
	}
	if o.ManagerBinary == "" {
		o.ManagerBinary = filepath.Join(o.Root, "bin", "manager")
	}
	if o.FerretDBBinary == "" {
		o.FerretDBBinary = filepath.Join(o.Root, "bin", "ferretdb")
	}
	if o.APIPort == 0 {
		o.APIPort = 8082
	}
	if o.MongoPort == 0 {
		o.MongoPort = 27018
	}
	if o.SecondMongoPort == 0 {
		o.SecondMongoPort = 27019
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// Start brings everything up. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	e := &Env{opts: opts}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, err
	}
	if e.lock, err = acquireLock(filepath.Join(opts.StateDir, "lock")); err != nil {
		return nil, err
	}
	if err := checkPorts(map[string]int{"REST API": opts.APIPort, "MongoDB (FerretDB)": opts.MongoPort,
		"second MongoDB (FerretDB)": opts.SecondMongoPort}); err != nil {
		return nil, err
	}
	for _, bin := range []string{opts.ManagerBinary, opts.FerretDBBinary} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%s is missing: run `make dev` (it builds bin/manager and bin/ferretdb)", bin)
		}
	}
	if err := e.startControlPlane(); err != nil {
		return nil, err
	}
	if err := e.startMongo(); err != nil {
		return nil, err
	}
	if err := e.startSecondMongo(ctx); err != nil {
		return nil, err
	}
	e.APIURL = fmt.Sprintf("http://127.0.0.1:%d", opts.APIPort)
	if err := e.writeEnvFile(); err != nil {
		return nil, err
	}
	if err := e.StartManager(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Env) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(e.opts.Log, format+"\n", args...) // progress lines only
}

func (e *Env) startControlPlane() error {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run through `make dev` (it builds the control plane first)")
	}
	e.logf("starting etcd and kube-apiserver (data in %s)", filepath.Join(e.opts.StateDir, "etcd"))
	e.cp = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(e.opts.Root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	e.cp.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(e.opts.StateDir, "etcd")}
	if err := controlplane.DieWithStarter(e.cp, os.Getenv("KUBEBUILDER_ASSETS")); err != nil {
		return err
	}
	if err := os.MkdirAll(e.cp.ControlPlane.Etcd.DataDir, 0o700); err != nil {
		return err
	}
	if _, err := e.cp.Start(); err != nil {
		e.cp = nil
		return fmt.Errorf("start control plane: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.opts.StateDir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, e.cp.KubeConfig, 0o600); err != nil {
		return err
	}
	c, err := client.New(e.cp.Config, client.Options{})
	if err != nil {
		return err
	}
	return controlplane.CreateNamespaces(context.Background(), c)
}

// Config is a rest.Config for the apiserver (admin).
func (e *Env) Config() *rest.Config { return e.cp.Config }

// operatorUser is the manager's MongoDB user in the local environment.
const operatorUser = "org-operator"

func (e *Env) startMongo() error {
	dir := filepath.Join(e.opts.StateDir, "ferretdb")
	e.logf("starting FerretDB on 127.0.0.1:%d (data in %s, authentication on)", e.opts.MongoPort, dir)
	pw, err := storePassword(filepath.Join(e.opts.StateDir, "ferretdb-password"))
	if err != nil {
		return err
	}
	p, err := ferretdb.StartProcess(ferretdb.ProcessOptions{Binary: e.opts.FerretDBBinary,
		Addr: fmt.Sprintf("127.0.0.1:%d", e.opts.MongoPort), Dir: dir, LogPath: e.MongoLog(),
		Username: operatorUser, Password: pw})
	if err != nil {
		return err
	}
	e.mongo, e.MongoURI = p, p.URI()
	return nil
}

// SecondBackend is the sample MongoBackend of the second deployment
// (config/samples), and SecondBackendSecret its connection Secret, which
// the environment writes (the URI holds a generated password).
const (
	SecondBackend       = "second"
	SecondBackendSecret = "second-mongodb"
)

// startSecondMongo starts the second deployment and writes the connection
// Secret of the sample MongoBackend that names it.
func (e *Env) startSecondMongo(ctx context.Context) error {
	dir := filepath.Join(e.opts.StateDir, "ferretdb-second")
	e.logf("starting a second FerretDB on 127.0.0.1:%d (data in %s): MongoBackend %s", e.opts.SecondMongoPort, dir, SecondBackend)
	pw, err := storePassword(filepath.Join(e.opts.StateDir, "ferretdb-second-password"))
	if err != nil {
		return err
	}
	p, err := ferretdb.StartProcess(ferretdb.ProcessOptions{Binary: e.opts.FerretDBBinary,
		Addr: fmt.Sprintf("127.0.0.1:%d", e.opts.SecondMongoPort), Dir: dir, LogPath: filepath.Join(e.opts.StateDir, "ferretdb-second.log"),
		Username: operatorUser, Password: pw})
	if err != nil {
		return err
	}
	e.second, e.SecondMongoURI = p, p.URI()
	c, err := client.New(e.cp.Config, client.Options{})
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: CredentialsNamespace, Name: SecondBackendSecret}}
	_, err = controllerutil.CreateOrUpdate(ctx, c, secret, func() error {
		secret.StringData = map[string]string{"uri": p.URI()}
		return nil
	})
	return err
}

// storePassword reads the operator user's password kept at path, or makes
// and keeps one: FerretDB creates that user only when its data is new, so
// the password must outlive a restart as the data does.
func storePassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	pw, err := password.Generate()
	if err != nil {
		return "", err
	}
	return pw, os.WriteFile(path, []byte(pw+"\n"), 0o600)
}

// MongoLog is the store process's log file.
func (e *Env) MongoLog() string { return filepath.Join(e.opts.StateDir, "ferretdb.log") }

// StartMongo starts the store process (again) on the environment's port
// and data and waits until it accepts connections.
func (e *Env) StartMongo() error { return e.mongo.Start() }

// StopMongo stops the store process (its data stays); StartMongo brings it back.
func (e *Env) StopMongo() error { return e.KillMongo(syscall.SIGTERM) }

// KillMongo stops the store process with sig (SIGKILL simulates a crash)
// and waits; StartMongo brings it back.
func (e *Env) KillMongo(sig syscall.Signal) error { return e.mongo.Kill(sig) }

// MongoPID is the store process's pid (0 when it is not running).
func (e *Env) MongoPID() int { return e.mongo.Pid() }

// ManagerPID is the manager process's pid (0 when it is not running).
func (e *Env) ManagerPID() int {
	if e.manager == nil {
		return 0
	}
	return e.manager.Pid()
}

func (e *Env) writeEnvFile() error {
	e.EnvFile = filepath.Join(e.opts.StateDir, "env")
	content := fmt.Sprintf("# Written by `make dev`; source it: . %s\nexport KUBECONFIG=%s\nexport MONGODB_URI=%s\nexport ORG_API_URL=%s\n",
		e.EnvFile, shellQuote(e.Kubeconfig), shellQuote(e.MongoURI), shellQuote(e.APIURL))
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		// kubectl of the apiserver's version (make envtest-assets) first.
		content += "export PATH=" + shellQuote(assets) + ":\"$PATH\"\n"
	}
	return os.WriteFile(e.EnvFile, []byte(content), 0o600)
}

// StartManager starts the manager binary as its own process and waits until
// it is ready. It fails if the manager exits first.
func (e *Env) StartManager(ctx context.Context) error {
	e.ManagerLog = filepath.Join(e.opts.StateDir, "manager.log")
	p, err := managerproc.Start(ctx, managerproc.Options{
		Binary: e.opts.ManagerBinary, Kubeconfig: e.Kubeconfig, MongoURI: e.MongoURI, LogPath: e.ManagerLog,
		Args: append([]string{"--leader-elect=false", "--credentials-namespace=" + CredentialsNamespace, "--resync-period=1m"},
			e.opts.ManagerArgs...),
	})
	if err != nil {
		return err
	}
	e.manager = p.Process
	e.ProbeURL = p.ProbeURL
	e.logf("started the manager (pid %d, log %s)", p.Pid(), e.ManagerLog)
	return nil
}

// KillManager stops the manager with sig (SIGKILL simulates a crash) and waits.
func (e *Env) KillManager(sig syscall.Signal) error {
	if e.manager == nil {
		return nil
	}
	err := e.manager.Stop(sig, 15*time.Second)
	e.manager = nil
	return err
}

// Stop stops the manager, FerretDB and the control plane, and releases the lock.
func (e *Env) Stop() error {
	var errs []error
	if e.manager != nil {
		errs = append(errs, e.KillManager(syscall.SIGTERM))
	}
	if e.mongo != nil {
		errs = append(errs, e.StopMongo())
	}
	if e.second != nil {
		errs = append(errs, e.second.Stop())
	}
	// The apiserver before its storage: with only etcd restarted, envtest's
	// apiserver goes first, or it would wait for a gone etcd while stopping.
	if e.cp != nil && e.restarted[Etcd] != nil && e.restarted[KubeAPIServer] == nil {
		errs = append(errs, e.cp.ControlPlane.APIServer.Stop())
	}
	for _, name := range []string{KubeAPIServer, Etcd} {
		if p := e.restarted[name]; p != nil {
			errs = append(errs, p.Stop(syscall.SIGTERM, 15*time.Second))
		}
	}
	e.restarted = nil
	if e.cp != nil {
		errs = append(errs, e.cp.Stop())
		e.cp = nil
	}
	if e.lock != nil {
		_ = e.lock.Close()
		_ = os.Remove(e.lock.Name())
		e.lock = nil
	}
	return errors.Join(errs...)
}

// Kubectl runs kubectl against the environment and returns its combined output.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// acquireLock takes an exclusive, non-blocking lock on path.
func acquireLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if pid, _ := os.ReadFile(path); len(pid) > 0 {
			return nil, fmt.Errorf("%w (pid %s)", ErrAlreadyRunning, strings.TrimSpace(string(pid)))
		}
		return nil, ErrAlreadyRunning
	}
	_ = f.Truncate(0)
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return f, nil
}

// checkPorts reports the first fixed port already in use, in one line.
func checkPorts(ports map[string]int) error {
	for what, port := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return fmt.Errorf("port %d (%s) is already in use; stop whatever listens there or choose another port", port, what)
		}
		_ = l.Close()
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ManagerAPIArgs are the manager flags that serve the REST API on the given
// loopback port with self-service sign-up open, as in `make dev`.
func ManagerAPIArgs(port int) []string {
	return []string{"--api-bind-address=127.0.0.1:" + strconv.Itoa(port), "--signup=open"}
}
