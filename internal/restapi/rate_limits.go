package restapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Rate limits. Login, refresh and sign-up share a token bucket per client
// network, taken before the request is even read; PATCH and DELETE take one
// per organization once the caller is authenticated. Every answer that took
// (or was refused) a token says where its bucket stands, with the headers of
// the IETF draft (draft-ietf-httpapi-ratelimit-headers): RateLimit-Limit
// (the bucket's size), RateLimit-Remaining (tokens left) and RateLimit-Reset
// (seconds until the bucket is full again); a refused request also gets
// Retry-After. Reads of one's own organization, logout, the JWKS and the
// probes are not rate limited by the server.

// Header names of the rate-limit state.
const (
	headerRateLimit     = "RateLimit-Limit"
	headerRateRemaining = "RateLimit-Remaining"
	headerRateReset     = "RateLimit-Reset"
)

// Operation ids of the rate-limited operations.
const (
	opLogin              = "login"
	opRefresh            = "refresh"
	opSignup             = "signup"
	opPatchOrganization  = "patchOrganization"
	opDeleteOrganization = "deleteOrganization"
)

// perNetworkOperations are the operations limited per client network.
var perNetworkOperations = map[string]bool{opLogin: true, opRefresh: true, opSignup: true}

// perOrganizationOperations are the operations limited per organization.
var perOrganizationOperations = map[string]bool{opPatchOrganization: true, opDeleteOrganization: true}

// quota is a bucket's state once a request took, or failed to take, a token.
type quota struct {
	allowed    bool
	limit      int
	remaining  int
	reset      time.Duration
	retryAfter time.Duration
}

// setHeaders writes the rate-limit headers with set.
func (q quota) setHeaders(set func(name, value string)) {
	set(headerRateLimit, strconv.Itoa(q.limit))
	set(headerRateRemaining, strconv.Itoa(q.remaining))
	set(headerRateReset, strconv.Itoa(int(math.Ceil(q.reset.Seconds()))))
}

// limitPerNetwork is the middleware that applies the per-client-network
// bucket to login, refresh and sign-up before their input is read: 429 with
// Retry-After once it is empty.
func (s *Server) limitPerNetwork(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || !perNetworkOperations[op.OperationID] {
		next(ctx)
		return
	}
	q := s.limiter.take(clientNetworkOf(ctx.Context()), s.now())
	q.setHeaders(ctx.SetHeader)
	if q.allowed {
		next(ctx)
		return
	}
	if op.OperationID == opLogin {
		s.metrics.logins.WithLabelValues(loginThrottled).Inc()
	}
	ctx.SetHeader("Retry-After", strconv.Itoa(retrySeconds(q.retryAfter)))
	_ = huma.WriteErr(s.api, ctx, http.StatusTooManyRequests, "too many requests from this address")
}

// writeLimited applies the per-organization bucket to an authenticated
// write, and says where it stands in the answer's headers.
func (s *Server) writeLimited(ctx context.Context, p *principal) error {
	q := s.writes.take(p.org.Name, s.now())
	if set, ok := ctx.Value(responseHeadersKey).(func(name, value string)); ok {
		q.setHeaders(set)
	}
	if !q.allowed {
		return errTooManyRequests("too many changes to this organization; retry later", q.retryAfter)
	}
	return nil
}

// retrySeconds is a Retry-After value: whole seconds, at least one.
func retrySeconds(d time.Duration) int {
	return max(1, int(d.Round(time.Second)/time.Second))
}
