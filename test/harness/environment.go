package harness

import (
	"context"
	"errors"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/test/ferretdbtest"
	"github.com/org-operator/org-operator/test/testenv"
)

// Environment is a real apiserver (envtest) with the CRDs and the
// credentials namespace, and a FerretDB server, plus uncached clients for
// assertions. Suites and benchmarks start one and then a Manager on it.
type Environment struct {
	Env    *envtest.Environment
	Config *rest.Config
	// Client talks to the apiserver directly (no cache).
	Client client.Client
	Mongo  *ferretdbtest.Server
	// Store is an assertion connection to Database on Mongo.
	Store                *mongostore.Store
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
	// Mongo configures the FerretDB server (default: SQLite in a temp dir).
	Mongo ferretdbtest.Options
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
	if e.Env, e.Config, err = testenv.Start(); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: Scheme}); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if err := testenv.CreateNamespaces(context.Background(), e.Client, o.CredentialsNamespace, o.OperatorNamespace); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if e.Mongo, err = ferretdbtest.Start(o.Mongo); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	e.Store, err = mongostore.Connect(mongostore.Options{URI: e.Mongo.URI(), Database: o.Database, ServerSelectionTimeout: time.Second})
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	return e, nil
}

// StartManager starts a manager on this environment; o's connection fields
// (MongoURI, Database, CredentialsNamespace, OperatorNamespace) are filled in.
func (e *Environment) StartManager(o Options) (*Manager, error) {
	o.MongoURI, o.Database, o.CredentialsNamespace, o.OperatorNamespace = e.Mongo.URI(), e.Database, e.CredentialsNamespace, e.OperatorNamespace
	return StartManager(e.Config, o)
}

// Stop stops FerretDB and the control plane.
func (e *Environment) Stop() error {
	var errs []error
	if e.Store != nil {
		errs = append(errs, e.Store.Close(context.Background()))
	}
	if e.Mongo != nil {
		errs = append(errs, e.Mongo.Close())
	}
	if e.Env != nil {
		errs = append(errs, e.Env.Stop())
	}
	return errors.Join(errs...)
}
