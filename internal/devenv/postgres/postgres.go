// Package postgres starts Debian's PostgreSQL 15 in a folder of its own,
// for FerretDB's PostgreSQL backend in benchmarks and multi-deployment
// tests: a throw-away server (fsync off), not a database to keep.
package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/org-operator/org-operator/internal/devenv/proc"
)

// Bin is where Debian's PostgreSQL 15 keeps its programs.
const Bin = "/usr/lib/postgresql/15/bin"

// Server is a running PostgreSQL.
type Server struct {
	*proc.Process
	// URL is a connection string of the database "ferretdb" on it.
	URL string
}

// Start runs initdb and postgres as the postgres user (PostgreSQL refuses
// to run as root) in dir/pg, on a free loopback port, creates the database
// "ferretdb", and returns the server. It fails with a message naming the
// package when PostgreSQL is not installed.
func Start(ctx context.Context, dir string) (*Server, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("the PostgreSQL backend needs Debian's postgresql-15 package (user postgres): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	as := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	pgDir := filepath.Join(dir, "pg")
	if err := os.MkdirAll(pgDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil { // the postgres user must reach pgDir
		return nil, err
	}
	if err := os.Chown(pgDir, uid, gid); err != nil {
		return nil, err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(Bin, "initdb"), "-D", filepath.Join(pgDir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
	initdb.SysProcAttr = as()
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-D", filepath.Join(pgDir, "data"), "-p", strconv.Itoa(port), "-k", pgDir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "shared_buffers=256MB"}
	p, err := proc.Start(filepath.Join(Bin, "postgres"), args, nil, filepath.Join(dir, "postgres.log"), as())
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := proc.WaitTCP(ctx, addr, p, time.Minute); err != nil {
		return nil, err
	}
	createdb := exec.CommandContext(ctx, filepath.Join(Bin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "ferretdb")
	createdb.SysProcAttr = as()
	if out, err := createdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("createdb: %w: %s", err, out)
	}
	return &Server{Process: p, URL: fmt.Sprintf("postgres://postgres@%s/ferretdb", addr)}, nil
}
