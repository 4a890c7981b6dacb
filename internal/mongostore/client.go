// Package mongostore is the operator's only door to MongoDB: it connects by
// URI and exposes idempotent operations (ensure / observe / drop) on tenant
// collections and admin records. Every call runs under its own timeout, so an
// unreachable server turns into an error classified by IsUnavailable instead
// of a hung reconcile.
//
// The package works against MongoDB and FerretDB v1 alike; it uses no
// transactions, TTL indexes or change streams.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Defaults for Options fields left zero.
const (
	DefaultDatabase               = "orgs"
	DefaultOperationTimeout       = 10 * time.Second
	DefaultServerSelectionTimeout = 5 * time.Second
	DefaultConnectTimeout         = 5 * time.Second
	DefaultMaxPoolSize            = 20
)

// ErrMissingURI is returned by Connect when no URI is configured.
var ErrMissingURI = errors.New("MongoDB URI is required (set --mongodb-uri or MONGODB_URI)")

// Options configures the connection.
type Options struct {
	// URI is a mongodb:// or mongodb+srv:// connection string.
	URI string
	// Database holds tenant collections and the admins collection.
	Database string
	// OperationTimeout bounds every single call made by the store.
	OperationTimeout time.Duration
	// ServerSelectionTimeout bounds how long a call waits for a reachable server.
	ServerSelectionTimeout time.Duration
	// ConnectTimeout bounds establishing one connection.
	ConnectTimeout time.Duration
	// MaxPoolSize and MinPoolSize size the connection pool.
	MaxPoolSize uint64
	MinPoolSize uint64
	// Monitor, when set, observes every command (see CommandCounter).
	Monitor *event.CommandMonitor
}

func (o Options) withDefaults() Options {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.OperationTimeout <= 0 {
		o.OperationTimeout = DefaultOperationTimeout
	}
	if o.ServerSelectionTimeout <= 0 {
		o.ServerSelectionTimeout = DefaultServerSelectionTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.MaxPoolSize == 0 {
		o.MaxPoolSize = DefaultMaxPoolSize
	}
	return o
}

// ValidateURI checks that uri is a usable MongoDB connection string. The
// returned error never contains the URI itself, which may hold a password.
func ValidateURI(uri string) error {
	if uri == "" {
		return ErrMissingURI
	}
	if _, err := connstring.ParseAndValidate(uri); err != nil {
		return fmt.Errorf("MongoDB URI is not valid: %s", redactURIError(err, uri))
	}
	return nil
}

// redactURIError removes the URI from a parser message, should it echo it.
func redactURIError(err error, uri string) string {
	if uri == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), uri, "<uri>")
}

// Store is a connected MongoDB client bound to one database.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	opts    Options
	indexes indexState
	// sharedIndexed remembers shared collections whose tenant index exists.
	sharedIndexed sync.Map
}

// Connect validates the URI and creates a client. It does not wait for the
// server: an unreachable server surfaces later, per call, as IsUnavailable.
func Connect(opts Options) (*Store, error) {
	if err := ValidateURI(opts.URI); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	co := options.Client().ApplyURI(opts.URI).
		SetServerSelectionTimeout(opts.ServerSelectionTimeout).
		SetConnectTimeout(opts.ConnectTimeout).
		SetMaxPoolSize(opts.MaxPoolSize).
		SetMinPoolSize(opts.MinPoolSize).
		SetAppName("org-operator")
	if opts.Monitor != nil {
		co.SetMonitor(opts.Monitor)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("MongoDB client: %s", redactURIError(err, opts.URI))
	}
	return &Store{client: client, db: client.Database(opts.Database), opts: opts}, nil
}

// Database is the name of the database the store works in.
func (s *Store) Database() string { return s.opts.Database }

// Close disconnects the client.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	return wrap("ping", s.client.Ping(ctx, readpref.Primary()))
}

// callContext derives the per-call context: every call gets its own timeout.
func (s *Store) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.OperationTimeout)
}

// ServerVersion is the version the deployment reports (buildInfo).
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var info struct {
		Version string `bson:"version"`
	}
	err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	return info.Version, wrap("buildInfo", err)
}
