package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Every error is an RFC 9457 problem (application/problem+json). Messages are
// generic where detail would help an attacker: a wrong email and a wrong
// password give the same 401; another organization answers like a missing one.

func init() {
	// Schema violations (an object where a string belongs, an unknown field,
	// a too long password) are the client's malformed request: 400, not huma's 422.
	// Error details never echo the offending value: it may be a password.
	base := huma.NewError
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		se := base(status, msg, errs...)
		if m, ok := se.(*huma.ErrorModel); ok {
			for _, d := range m.Errors {
				if d != nil {
					d.Value = nil
				}
			}
		}
		return se
	}
}

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

func errTooManyRequests(msg string, retryAfter time.Duration) error {
	secs := int(retryAfter.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return huma.ErrorWithHeaders(huma.Error429TooManyRequests(msg), http.Header{"Retry-After": {strconv.Itoa(secs)}})
}

func errUnavailable() error {
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("a backing service is unavailable; retry later"),
		http.Header{"Retry-After": {"5"}})
}

// documentValidationAs400 rewrites the OpenAPI document to match init(): huma
// documents validation failures as 422, this API answers them with 400.
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
