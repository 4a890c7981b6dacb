package restapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"k8s.io/utils/ptr"
)

// The OpenAPI document is the API's contract, checked against spectral's
// OWASP API Security ruleset (hack/openapi, make test). What huma cannot
// see from the Go types is added here: who to contact, the tags, the
// rate-limit headers, and bounds on huma's own problem schema.

// maxProblemErrors bounds the error details of one problem document.
const maxProblemErrors = 100

// apiTags describes the operations' tags.
var apiTags = []*huma.Tag{
	{Name: tagAuth, Description: "Log in, refresh and end sessions; the keys that verify access tokens."},
	{Name: tagOrganizations, Description: "Your own organization: read, change, rename, delete; self-service sign-up."},
	{Name: tagHealth, Description: "Probes for load balancers and the kubelet."},
}

// documentContract completes oapi: contact, server, tags, the rate-limit
// headers of the limited operations' answers, and bounds on the problem
// schema huma defines.
func documentContract(oapi *huma.OpenAPI) {
	oapi.Info.Contact = &huma.Contact{Name: "org-operator maintainers", URL: "https://github.com/org-operator/org-operator"}
	oapi.Servers = []*huma.Server{{URL: "/", Description: "The address this document is served from, in every environment " +
		"(local, staging, production): each installation serves its own",
		Extensions: map[string]any{"x-internal": false}}}
	oapi.Tags = apiTags
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil {
				documentRateLimits(op)
				documentRetryAfter(op)
			}
		}
	}
	boundProblemSchemas(oapi.Components.Schemas)
}

// documentRateLimits adds the RateLimit-* headers to every 2XX and 4XX
// answer of a rate-limited operation: always there for the operations
// limited per client network (taken before the request is read), once the
// caller is authenticated for those limited per organization.
func documentRateLimits(op *huma.Operation) {
	perNetwork, perOrganization := perNetworkOperations[op.OperationID], perOrganizationOperations[op.OperationID]
	if !perNetwork && !perOrganization {
		return
	}
	bucket := "the client network's (login, refresh and sign-up share it)"
	if perOrganization {
		bucket = "the organization's (its PATCH and DELETE share it; present once the caller is authenticated)"
	}
	for code, r := range op.Responses {
		if !strings.HasPrefix(code, "2") && !strings.HasPrefix(code, "4") {
			continue
		}
		if r.Headers == nil {
			r.Headers = map[string]*huma.Param{}
		}
		for _, h := range []struct{ name, doc string }{
			{headerRateLimit, "Requests the bucket holds: " + bucket},
			{headerRateRemaining, "Requests left in the bucket"},
			{headerRateReset, "Seconds until the bucket is full again"},
		} {
			r.Headers[h.name] = &huma.Param{Description: h.doc, Required: perNetwork, Schema: boundedInteger(0)}
		}
	}
}

// documentRetryAfter documents Retry-After on the answers that carry it:
// 429 (rate limits, lockouts, a busy password hasher) and 503.
func documentRetryAfter(op *huma.Operation) {
	for _, code := range []string{"429", "503"} {
		if r := op.Responses[code]; r != nil {
			if r.Headers == nil {
				r.Headers = map[string]*huma.Param{}
			}
			r.Headers["Retry-After"] = &huma.Param{Description: "Seconds to wait before trying again", Required: true, Schema: boundedInteger(1)}
		}
	}
}

// boundedInteger is a header's integer schema, from minimum to 10^9.
func boundedInteger(minimum float64) *huma.Schema {
	return &huma.Schema{Type: huma.TypeInteger, Format: "int32", Minimum: ptr.To(minimum), Maximum: ptr.To(1e9)}
}

// boundProblemSchemas documents the bounds of huma's problem document
// (RFC 9457) as this server writes it.
func boundProblemSchemas(schemas huma.Registry) {
	all := schemas.Map()
	if m, ok := all["ErrorModel"]; ok {
		bound(m, "title", 64, `^[A-Za-z][A-Za-z -]*$`)
		bound(m, "detail", 1024, "")
		bound(m, "type", 256, "")
		bound(m, "instance", 256, "")
		if s := m.Properties["status"]; s != nil {
			s.Minimum, s.Maximum = ptr.To(400.0), ptr.To(599.0)
		}
		if s := m.Properties["errors"]; s != nil {
			s.MaxItems = ptr.To(maxProblemErrors)
		}
	}
	if d, ok := all["ErrorDetail"]; ok {
		bound(d, "location", 256, "")
		bound(d, "message", 512, "")
	}
}

func bound(s *huma.Schema, property string, maxLength int, pattern string) {
	p := s.Properties[property]
	if p == nil || !slices.Contains([]string{huma.TypeString, ""}, p.Type) {
		return
	}
	p.MaxLength = ptr.To(maxLength)
	if pattern != "" {
		p.Pattern = pattern
	}
}

// register registers an operation whose answers may also be a 500 (an
// internal error, a problem document like every other error).
func register[I, O any](s *Server, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	if !slices.Contains(op.Errors, http.StatusInternalServerError) {
		op.Errors = append(op.Errors, http.StatusInternalServerError)
	}
	huma.Register(s.api, op, handler)
}
