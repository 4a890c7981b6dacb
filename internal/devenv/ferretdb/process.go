package ferretdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/org-operator/org-operator/internal/devenv/proc"
)

// Instance is a FerretDB server a test or the development environment
// runs: embedded (Server) or its own process (Process). Stop and Start
// simulate an outage (address and data kept); Close stops it for good.
type Instance interface {
	// URI is the mongodb:// URI of the server, with the operator's
	// credentials when authentication is on.
	URI() string
	// Addr is the host:port it listens on.
	Addr() string
	Stop() error
	Start() error
	Close() error
}

var (
	_ Instance = (*Server)(nil)
	_ Instance = (*Process)(nil)
)

// ProcessOptions runs the real FerretDB binary (FerretDB's cmd/ferretdb,
// built by `make ferretdb` into bin/ferretdb from the nested module
// hack/ferretdb) as a process of its own: the only way to have FerretDB
// v1's users and SCRAM authentication (--test-enable-new-auth), which the
// embedded library cannot turn on.
type ProcessOptions struct {
	// Binary is the FerretDB executable.
	Binary string
	// Addr is host:port to listen on; default a free loopback port.
	Addr string
	// Backend is SQLite (default, data in Dir) or PostgreSQL (PostgreSQLURL).
	Backend       Backend
	Dir           string
	PostgreSQLURL string
	// Username and Password, when set, turn authentication on: the first
	// user (created in the admin database the first time the data is
	// initialised), and every command but the handshake needs a user.
	Username, Password string
	// LogPath receives its output; default Dir/ferretdb.log (or a
	// temporary file for PostgreSQL).
	LogPath string
	// RemoveOnClose removes Dir when the process is closed (a test's
	// temporary data).
	RemoveOnClose bool
}

// Process is FerretDB running as its own process.
type Process struct {
	opts ProcessOptions
	p    *proc.Process
}

// ErrNoBinary explains how to get the FerretDB binary.
var ErrNoBinary = errors.New("the FerretDB binary is missing: run `make ferretdb` (it builds bin/ferretdb from hack/ferretdb)")

// StartProcess starts FerretDB and waits until it accepts connections.
func StartProcess(o ProcessOptions) (*Process, error) {
	if _, err := os.Stat(o.Binary); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoBinary, o.Binary)
	}
	if o.Backend == "" {
		o.Backend = SQLite
	}
	if o.Backend == SQLite && o.Dir == "" {
		return nil, errors.New("ferretdb: a data directory is required for the SQLite backend")
	}
	if o.Addr == "" {
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		o.Addr = "127.0.0.1:" + strconv.Itoa(port)
	}
	if o.LogPath == "" {
		dir := o.Dir
		if dir == "" {
			dir = os.TempDir()
		}
		o.LogPath = filepath.Join(dir, "ferretdb.log")
	}
	p := &Process{opts: o}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Args are FerretDB's command-line flags for o.
func Args(o ProcessOptions) []string {
	args := []string{"--listen-addr=" + o.Addr, "--handler=" + string(o.Backend), "--telemetry=disable", "--debug-addr=-", "--log-level=warn"}
	switch o.Backend {
	case PostgreSQL:
		args = append(args, "--postgresql-url="+o.PostgreSQLURL)
	default:
		args = append(args, "--sqlite-url=file:"+filepath.Clean(o.Dir)+"/", "--state-dir="+o.Dir)
	}
	if o.Username != "" {
		args = append(args, "--test-enable-new-auth", "--setup-database=admin",
			"--setup-username="+o.Username, "--setup-password="+o.Password)
	}
	return args
}

// URI is the server's URI, with the first user's credentials (authSource
// admin) when authentication is on.
func (p *Process) URI() string {
	if p.opts.Username == "" {
		return "mongodb://" + p.opts.Addr + "/"
	}
	return "mongodb://" + url.UserPassword(p.opts.Username, p.opts.Password).String() + "@" + p.opts.Addr + "/?authSource=admin"
}

// Addr is the host:port the server listens on.
func (p *Process) Addr() string { return p.opts.Addr }

// Pid is the process's pid (0 when stopped).
func (p *Process) Pid() int {
	if p.p == nil {
		return 0
	}
	return p.p.Pid()
}

// LogPath is the process's log.
func (p *Process) LogPath() string { return p.opts.LogPath }

// Start starts the process (again) with the same options and data, and
// waits until it accepts connections; a no-op while it runs.
func (p *Process) Start() error {
	if p.p != nil {
		return nil
	}
	if p.opts.Dir != "" {
		if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
			return err
		}
	}
	pr, err := proc.Start(p.opts.Binary, Args(p.opts), os.Environ(), p.opts.LogPath, nil)
	if err != nil {
		return err
	}
	if err := proc.WaitTCP(context.Background(), p.opts.Addr, pr, 30*time.Second); err != nil {
		return errors.Join(err, pr.Stop(syscall.SIGKILL, 5*time.Second))
	}
	p.p = pr
	return nil
}

// Kill stops the process with sig (SIGKILL simulates a crash) and waits.
func (p *Process) Kill(sig syscall.Signal) error {
	if p.p == nil {
		return nil
	}
	err := p.p.Stop(sig, 15*time.Second)
	p.p = nil
	return err
}

// Stop stops the process cleanly; its data stays.
func (p *Process) Stop() error { return p.Kill(syscall.SIGTERM) }

// Close stops the process; its data stays where Dir says unless
// RemoveOnClose.
func (p *Process) Close() error {
	err := p.Stop()
	if p.opts.RemoveOnClose && p.opts.Dir != "" {
		err = errors.Join(err, os.RemoveAll(p.opts.Dir))
	}
	return err
}
