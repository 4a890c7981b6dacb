package restapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/org-operator/org-operator/internal/tokens"
)

// JWKSOutput is the public key set.
type JWKSOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         tokens.JWKS
}

// HealthOutput reports health.
type HealthOutput struct {
	Body struct {
		Status string `json:"status" enum:"ok,unavailable"`
	}
}

func (s *Server) registerMisc() {
	huma.Register(s.api, huma.Operation{
		OperationID: "jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json", Tags: []string{tagAuth},
		Summary: "Public keys that verify access tokens (RFC 7517)",
		Errors:  []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*JWKSOutput, error) {
		ks, err := s.keys.Keys(ctx)
		if err != nil {
			s.log.Error(err, "reading signing keys")
			return nil, errUnavailable()
		}
		return &JWKSOutput{CacheControl: "public, max-age=300", Body: ks.JWKS()}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{tagHealth},
		Summary: "Liveness: the process serves requests",
	}, func(context.Context, *struct{}) (*HealthOutput, error) {
		out := &HealthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{tagHealth},
		Summary: "Readiness: signing keys readable and MongoDB reachable",
		Errors:  []int{http.StatusServiceUnavailable},
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
