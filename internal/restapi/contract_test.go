//go:build integration

package restapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	. "github.com/onsi/gomega"
)

// checkContract verifies that every response the tests received is described
// in the served OpenAPI document: the operation exists, documents the status
// code, documents the content type (application/problem+json for errors),
// and every header the document says is required was sent.
func checkContract() {
	resp, err := http.Get(baseURL + "/openapi.json")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }() // read to the end below; nothing to report
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]any `json:"content"`
				Headers map[string]struct {
					Required bool `json:"required"`
				} `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	Expect(json.NewDecoder(resp.Body).Decode(&doc)).To(Succeed())

	recordedMu.Lock()
	defer recordedMu.Unlock()
	Expect(len(recorded)).To(BeNumerically(">", 50), "too few exchanges recorded for a meaningful contract check")
	seen := map[string]bool{}
	for _, x := range recorded {
		if x.path == "/openapi.json" || x.path == "/openapi.yaml" || x.path == "/docs" {
			continue // served by huma itself, not operations
		}
		key := x.method + " " + template(x.path) + " " + strconv.Itoa(x.status)
		if seen[key] {
			continue
		}
		seen[key] = true
		ops, ok := doc.Paths[template(x.path)]
		Expect(ok).To(BeTrue(), "path %s is not in the OpenAPI document", template(x.path))
		op, ok := ops[strings.ToLower(x.method)]
		Expect(ok).To(BeTrue(), "%s %s is not in the OpenAPI document", x.method, template(x.path))
		r, ok := op.Responses[strconv.Itoa(x.status)]
		Expect(ok).To(BeTrue(), "%s: status not documented", key)
		if x.contentType != "" {
			Expect(r.Content).To(HaveKey(x.contentType), "%s: content type %s not documented", key, x.contentType)
		}
		for name, h := range r.Headers {
			if h.Required {
				Expect(x.header.Get(name)).NotTo(BeEmpty(), "%s: the required header %s was not sent", key, name)
			}
		}
	}
}
