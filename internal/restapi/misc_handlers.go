package restapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/org-operator/org-operator/internal/tokens"
)

// JWKSOutput is the public key set.
type JWKSOutput struct {
	CacheControl string `header:"Cache-Control" enum:"public, max-age=300"`
	Body         tokens.JWKS
}

// HealthOutput reports health.
type HealthOutput struct {
	Body struct {
		Status string `json:"status" enum:"ok,unavailable"`
	}
}

func (s *Server) registerMisc() {
	register(s, huma.Operation{
		OperationID: "jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json", Tags: []string{tagAuth},
		Summary: "Public keys that verify access tokens (RFC 7517)",
		Description: "The Ed25519 keys the access tokens' kid header names: the signing key and those retired within a token " +
			"lifetime. Public, cacheable for five minutes.",
		Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*JWKSOutput, error) {
		ks, err := s.keys.Keys(ctx)
		if err != nil {
			s.log.Error(err, "reading signing keys")
			return nil, errUnavailable()
		}
		return &JWKSOutput{CacheControl: "public, max-age=300", Body: ks.JWKS()}, nil
	})
	register(s, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{tagHealth},
		Summary:     "Liveness: the process serves requests",
		Description: "Always ok while the process serves HTTP; it does not look at MongoDB, so an outage does not restart the pods.",
	}, func(context.Context, *struct{}) (*HealthOutput, error) {
		out := &HealthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	register(s, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{tagHealth},
		Summary:     "Readiness: signing keys readable and MongoDB reachable",
		Description: "503 while MongoDB does not answer or the signing keys cannot be read, so load balancers stop sending traffic.",
		Errors:      []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
		if _, err := s.keys.Keys(ctx); err != nil {
			return nil, errUnavailable()
		}
		if err := s.store.Ping(ctx); err != nil {
			return nil, errUnavailable()
		}
		out := &HealthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
}

// SigningKeysReadable reports whether the signing keys can be read (the
// manager's readiness check); an error means tokens can be neither issued
// nor verified.
func (s *Server) SigningKeysReadable(ctx context.Context) error {
	_, err := s.keys.Keys(ctx)
	return err
}
