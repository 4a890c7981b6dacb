package restapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The embedded assets are exactly @stoplight/elements 9.0.15's: the
// subresource-integrity hashes huma v2.37.2 pins for that version (its
// DocsRendererStoplightElements page loads them from unpkg).
func TestDocsAssetsArePinnedElements(t *testing.T) {
	for file, want := range map[string]string{
		"docsassets/web-components.min.js": "sha384-xjOcq9PZ/k+pGtPS/xcsCRXGjKKfTlIa4H1IYEnC+97jNa6sAMWTNrV6hY08W3GL",
		"docsassets/styles.min.css":        "sha384-iVQBHadsD+eV0M5+ubRCEVXrXEBj+BqcuwjUwPoVJc0Pb1fmrhYSAhL+BFProHdV",
	} {
		b, err := docsAssets.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := integrity(b); got != want {
			t.Errorf("%s: %s, want %s (the published file)", file, got, want)
		}
	}
}

// The page names only this origin's assets, with their integrity, and its
// policy allows nothing else.
func TestDocsPageLoadsOnlyItsOwnOrigin(t *testing.T) {
	mux := http.NewServeMux()
	registerDocs(mux, "API")
	for _, path := range []string{docsPath, docsScriptPath, docsStylePath} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if strings.Contains(csp, "http") || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if path != docsPath {
			continue
		}
		page := rec.Body.String()
		if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
			t.Errorf("the page loads something from another origin:\n%s", page)
		}
		for _, want := range []string{`src="` + docsScriptPath + `" integrity="sha384-`, `href="` + docsStylePath + `" integrity="sha384-`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
	}
}
