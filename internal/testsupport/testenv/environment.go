package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/seed"
)

// Environment is a real apiserver (envtest) with the CRDs and the operator's
// and credentials namespaces, and a FerretDB server, plus an uncached
// apiserver client and the independent MongoDB checker and seeder for
// assertions. Suites and benchmarks start one and then an in-process
// manager (StartInProcessManager) or manager processes on it.
type Environment struct {
	Env    *envtest.Environment
	Config *rest.Config
	// Client talks to the apiserver directly (no cache).
	Client client.Client
	// Mongo is FerretDB: embedded, or its own process with authentication
	// (EnvironmentOptions.Authentication).
	Mongo ferretdb.Instance
	// Check reads Database independently of the code under test; Seed
	// writes behind the system's back.
	Check                *check.Mongo
	Seed                 *seed.Mongo
	Database             string
	CredentialsNamespace string
	// OperatorNamespace holds the signing keys and the Lease.
	OperatorNamespace string
}

// EnvironmentOptions configures StartEnvironment.
type EnvironmentOptions struct {
	// Database defaults to "orgs", CredentialsNamespace and
	// OperatorNamespace to the production defaults (two namespaces).
	Database             string
	CredentialsNamespace string
	OperatorNamespace    string
	// Mongo configures the embedded FerretDB server (default: SQLite in a temp dir).
	Mongo ferretdb.Options
	// Authentication runs FerretDB as its own process (bin/ferretdb, `make
	// ferretdb`) with users and SCRAM instead, the operator connecting as
	// its own user: for application access, whose users need it.
	Authentication bool
}

// StartEnvironment starts everything; Stop undoes it.
func StartEnvironment(o EnvironmentOptions) (*Environment, error) {
	if o.Database == "" {
		o.Database = "orgs"
	}
	if o.CredentialsNamespace == "" {
		o.CredentialsNamespace = tenancyv1alpha1.DefaultCredentialsNamespace
	}
	if o.OperatorNamespace == "" {
		o.OperatorNamespace = tenancyv1alpha1.DefaultOperatorNamespace
	}
	e := &Environment{Database: o.Database, CredentialsNamespace: o.CredentialsNamespace, OperatorNamespace: o.OperatorNamespace}
	var err error
	if e.Env, e.Config, err = controlplane.Start(); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: Scheme}); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if err := controlplane.CreateNamespaces(context.Background(), e.Client, o.CredentialsNamespace, o.OperatorNamespace); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if e.Mongo, err = startMongo(o); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if e.Check, err = check.ConnectMongo(e.Mongo.URI(), o.Database); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	e.Seed, err = seed.ConnectMongo(e.Mongo.URI(), o.Database)
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	return e, nil
}

// startMongo starts the embedded FerretDB, or with o.Authentication the
// FerretDB process with a user for the operator (data in a temporary folder).
func startMongo(o EnvironmentOptions) (ferretdb.Instance, error) {
	if !o.Authentication {
		return ferretdb.Start(o.Mongo)
	}
	dir, err := os.MkdirTemp("", "ferretdb-auth-")
	if err != nil {
		return nil, err
	}
	pw, err := password.Generate()
	if err != nil {
		return nil, err
	}
	return ferretdb.StartProcess(ferretdb.ProcessOptions{Binary: filepath.Join(controlplane.RepoRoot(), "bin", "ferretdb"),
		Dir: dir, Username: "org-operator", Password: pw, RemoveOnClose: true})
}

// StartInProcessManager starts an in-process manager on this environment; o's connection fields
// (MongoURI, Database, CredentialsNamespace, OperatorNamespace) are filled in.
func (e *Environment) StartInProcessManager(o Options) (*InProcessManager, error) {
	o.MongoURI, o.Database, o.CredentialsNamespace, o.OperatorNamespace = e.Mongo.URI(), e.Database, e.CredentialsNamespace, e.OperatorNamespace
	return StartInProcessManager(e.Config, o)
}

// Stop stops FerretDB and the control plane.
func (e *Environment) Stop() error {
	var errs []error
	if e.Check != nil {
		errs = append(errs, e.Check.Close(context.Background()))
	}
	if e.Seed != nil {
		errs = append(errs, e.Seed.Close(context.Background()))
	}
	if e.Mongo != nil {
		errs = append(errs, e.Mongo.Close())
	}
	if e.Env != nil {
		errs = append(errs, e.Env.Stop())
	}
	return errors.Join(errs...)
}
