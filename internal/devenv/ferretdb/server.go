// Package ferretdb runs an embedded FerretDB v1 server, a real MongoDB
// wire-protocol server, for tests, the benchmarks and the local development
// environment (hack/ferretdb runs it as a process of its own).
//
// The manager binary must never import it (the production binary talks to
// any MongoDB by URI; depguard says so). SQLite is the default backend; the
// PostgreSQL backend is offered for benchmarks and large local data sets.
//
// Known FerretDB v1 gaps the project must not rely on: TTL indexes,
// transactions, change streams, collMod, createRole. Embedded FerretDB accepts
// any credentials (no SCRAM).
package ferretdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	embedded "github.com/FerretDB/FerretDB/ferretdb"
)

// Backend selects FerretDB's storage backend.
type Backend string

const (
	// SQLite keeps data in SQLite files under Options.Dir (the default).
	SQLite Backend = "sqlite"
	// PostgreSQL keeps data in the PostgreSQL database of Options.PostgreSQLURL.
	PostgreSQL Backend = "postgresql"
)

// Options configures a Server. The zero value is a SQLite server in a fresh
// temporary directory on a free loopback port.
type Options struct {
	// Addr is the TCP address to listen on; default 127.0.0.1:0 (a free port).
	Addr string
	// Backend is SQLite (default) or PostgreSQL.
	Backend Backend
	// Dir holds the SQLite files. When empty a temporary directory is created
	// and removed by Close; a Dir given by the caller is kept.
	Dir string
	// PostgreSQLURL is the connection string for the PostgreSQL backend.
	PostgreSQLURL string
	// Logger receives FerretDB's logs; default: discarded.
	Logger *slog.Logger
}

// Server is a running (or stopped) embedded FerretDB. Stop and Start may be
// called repeatedly to simulate an outage: the address and data are kept.
type Server struct {
	opts    Options
	tempDir bool

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

// Start starts a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.Backend == "" {
		opts.Backend = SQLite
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: opts}
	if opts.Backend == SQLite && opts.Dir == "" {
		dir, err := os.MkdirTemp("", "ferretdb-")
		if err != nil {
			return nil, fmt.Errorf("ferretdb: temporary directory: %w", err)
		}
		s.opts.Dir, s.tempDir = dir, true
	}
	if err := s.Start(); err != nil {
		s.removeTempDir()
		return nil, err
	}
	return s, nil
}

// URI is the mongodb:// URI of the server. It stays the same across Stop/Start.
func (s *Server) URI() string {
	return "mongodb://" + s.opts.Addr + "/"
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.opts.Addr }

// Dir is the SQLite data directory ("" for the PostgreSQL backend).
func (s *Server) Dir() string { return s.opts.Dir }

// Start (re)starts a stopped server on the same address with the same data.
// It is a no-op when the server is running.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return nil
	}
	cfg := &embedded.Config{
		Listener:      embedded.ListenerConfig{TCP: s.opts.Addr},
		Logger:        s.opts.Logger,
		Handler:       string(s.opts.Backend),
		PostgreSQLURL: s.opts.PostgreSQLURL,
	}
	if s.opts.Backend == SQLite {
		if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
			return fmt.Errorf("ferretdb: data directory: %w", err)
		}
		cfg.SQLiteURL = "file:" + filepath.Clean(s.opts.Dir) + "/"
	}
	f, err := embedded.New(cfg)
	if err != nil {
		return fmt.Errorf("ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	// MongoDBURI blocks until the listener is bound; it yields the real port
	// when Addr asked for port 0.
	uri := f.MongoDBURI()
	host, err := hostFromURI(uri)
	if err != nil {
		cancel()
		return errors.Join(err, <-done)
	}
	s.opts.Addr, s.cancel, s.done = host, cancel, done
	return waitForListener(host, 10*time.Second)
}

// Stop stops the server and waits until its listener and connections are
// closed. Data is kept; Start brings it back on the same address.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	err := <-s.done
	s.cancel, s.done = nil, nil
	return err
}

// Close stops the server and removes a temporary data directory.
func (s *Server) Close() error {
	err := s.Stop()
	s.removeTempDir()
	return err
}

func (s *Server) removeTempDir() {
	if s.tempDir {
		_ = os.RemoveAll(s.opts.Dir)
	}
}

func hostFromURI(uri string) (string, error) {
	const prefix = "mongodb://"
	if len(uri) < len(prefix) || uri[:len(prefix)] != prefix {
		return "", fmt.Errorf("ferretdb: unexpected URI %q", uri)
	}
	host := uri[len(prefix):]
	if i := len(host) - 1; i >= 0 && host[i] == '/' {
		host = host[:i]
	}
	return host, nil
}

func waitForListener(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("ferretdb: %s does not accept connections", addr), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
