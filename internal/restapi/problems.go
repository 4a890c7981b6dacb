package restapi

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Every error is an RFC 9457 problem (application/problem+json). Messages are
// generic where detail would help an attacker: a wrong email and a wrong
// password give the same 401; another organization answers like a missing one.

var wwwAuthenticate = http.Header{"WWW-Authenticate": {`Bearer realm="org-operator", error="invalid_token"`}}

func errUnauthenticated() error {
	return huma.ErrorWithHeaders(huma.Error401Unauthorized("missing, invalid, expired or revoked access token"), wwwAuthenticate)
}

func errBadCredentials() error {
	return huma.Error401Unauthorized("invalid email or password")
}

func errBadRefreshToken() error {
	return huma.Error401Unauthorized("invalid, expired or revoked refresh token")
}

func errOrgNotFound() error {
	return huma.Error404NotFound("organization not found")
}

func errNameTaken() error {
	return huma.Error409Conflict("an organization with that name already exists")
}

func errEmailTaken() error {
	return huma.Error409Conflict("that email is already used by another organization's admin")
}

func errTooManyRequests(msg string, retryAfter time.Duration) error {
	return huma.ErrorWithHeaders(huma.Error429TooManyRequests(msg), http.Header{"Retry-After": {strconv.Itoa(retrySeconds(retryAfter))}})
}

func errUnavailable() error {
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("a backing service is unavailable; retry later"),
		http.Header{"Retry-After": {"5"}})
}

// Schema violations (an object where a string belongs, an unknown field, a
// too long password) are the client's malformed request: this API answers
// them with 400, not huma's 422, and never echoes the offending value (it may
// be a password). Both rules apply to this API only: the status through a
// middleware that wraps the request context, the body through a transformer.

// validationAs400 is the middleware half: a 422 status becomes 400.
func validationAs400(ctx huma.Context, next func(huma.Context)) {
	next(statusRewriter{ctx})
}

// humaContext lets statusRewriter embed huma.Context under a name that does
// not hide the interface's own Context method.
type humaContext = huma.Context

type statusRewriter struct{ humaContext }

func (c statusRewriter) SetStatus(code int) {
	if code == http.StatusUnprocessableEntity {
		code = http.StatusBadRequest
	}
	c.humaContext.SetStatus(code)
}

// problemBody is the transformer half: a 422 problem says 400 and no
// error detail carries the rejected value.
func problemBody(_ huma.Context, _ string, v any) (any, error) {
	m, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	if m.Status == http.StatusUnprocessableEntity {
		m.Status, m.Title = http.StatusBadRequest, http.StatusText(http.StatusBadRequest)
	}
	if len(m.Errors) > maxProblemErrors {
		m.Errors = m.Errors[:maxProblemErrors]
	}
	for _, d := range m.Errors {
		if d != nil {
			d.Value = nil
		}
	}
	return m, nil
}

// documentAccepted documents the 202 that an operation answers when its
// change was accepted but not in effect within --api-change-timeout (or
// reached a Stalled verdict): the same body as its success, with a Location.
func documentAccepted(oapi *huma.OpenAPI, operationIDs ...string) {
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil || !slices.Contains(operationIDs, op.OperationID) {
				continue
			}
			for code, r := range op.Responses {
				if code == "200" || code == "201" {
					accepted := *r
					accepted.Description = "Accepted: not in effect yet (or stalled, see the conditions); poll the Location"
					op.Responses["202"] = &accepted
				}
			}
		}
	}
}

// documentValidationAs400 makes the OpenAPI document say what the API does:
// validation failures are documented as 400, not 422.
func documentValidationAs400(oapi *huma.OpenAPI) {
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil || op.Responses == nil {
				continue
			}
			if r, ok := op.Responses["422"]; ok {
				if _, has400 := op.Responses["400"]; !has400 {
					op.Responses["400"] = r
				}
				delete(op.Responses, "422")
			}
		}
	}
}
