package operator

import (
	"context"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/restapi"
)

// ReadinessTimeout bounds each readiness check, below the Deployment's
// probe timeout (3 s), so an unreachable MongoDB fails the probe with a
// reason instead of timing it out.
const ReadinessTimeout = 2 * time.Second

// addProbes registers the probe port's checks. Liveness is a cheap ping: a
// replica that cannot reach MongoDB is not restarted, which would not help.
// Readiness fails while MongoDB does not answer or (with the REST API on)
// the API does not listen yet or the signing keys cannot be read, so the
// Service sends API traffic only to a replica that can answer it.
func (op *Operator) addProbes() error {
	if err := op.Manager.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := op.Manager.AddReadyzCheck("mongodb", storeReachable(op.Store)); err != nil {
		return err
	}
	if op.API != nil {
		if err := op.Manager.AddReadyzCheck("rest-api", func(*http.Request) error { return op.API.Listening() }); err != nil {
			return err
		}
		return op.Manager.AddReadyzCheck("signing-keys", signingKeysReadable(op.API))
	}
	return nil
}

func storeReachable(store *mongostore.Store) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), ReadinessTimeout)
		defer cancel()
		return store.Ping(ctx)
	}
}

func signingKeysReadable(api *restapi.Server) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), ReadinessTimeout)
		defer cancel()
		return api.SigningKeysReadable(ctx)
	}
}
