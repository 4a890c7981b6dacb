package restapi

import (
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// The API reference page (/docs): Stoplight Elements, as huma renders it,
// but with its script and styles served from the binary (docsassets), so
// that it works where the browser has no internet access, with
// subresource-integrity hashes and a Content-Security-Policy that allows
// only this origin.

//go:embed docsassets/web-components.min.js docsassets/styles.min.css
var docsAssets embed.FS

// Paths of the page and its assets.
const (
	docsPath       = "/docs"
	docsScriptPath = "/docs/assets/web-components.min.js"
	docsStylePath  = "/docs/assets/styles.min.css"
)

// docsCSP lets the page load only this origin's script, styles, images,
// fonts and OpenAPI document (Elements also sets inline styles).
const docsCSP = "default-src 'none'; base-uri 'none'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; " +
	"img-src 'self' data:; font-src 'self' data:; script-src 'self'; style-src 'self' 'unsafe-inline'"

// registerDocs serves the page and its assets on mux.
func registerDocs(mux *http.ServeMux, title string) {
	script, _ := docsAssets.ReadFile("docsassets/web-components.min.js") // embedded: cannot fail
	style, _ := docsAssets.ReadFile("docsassets/styles.min.css")
	page := []byte(`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>` + title + ` Reference</title>
    <link rel="stylesheet" href="` + docsStylePath + `" integrity="` + integrity(style) + `">
    <script src="` + docsScriptPath + `" integrity="` + integrity(script) + `"></script>
  </head>
  <body style="height: 100vh;">
    <elements-api apiDescriptionUrl="/openapi.yaml" router="hash" layout="sidebar" tryItCredentialsPolicy="same-origin"></elements-api>
  </body>
</html>`)
	mux.HandleFunc("GET "+docsPath, serveDocsFile(page, "text/html; charset=utf-8", false))
	mux.HandleFunc("GET "+docsScriptPath, serveDocsFile(script, "text/javascript; charset=utf-8", true))
	mux.HandleFunc("GET "+docsStylePath, serveDocsFile(style, "text/css; charset=utf-8", true))
}

func serveDocsFile(body []byte, contentType string, immutable bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Security-Policy", docsCSP)
		if immutable { // versioned by the binary: the page's integrity hashes change with it
			h.Set("Cache-Control", "public, max-age=86400")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		_, _ = w.Write(body)
	}
}

// integrity is the subresource-integrity value of b.
func integrity(b []byte) string {
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// isDocs reports whether path is the page or one of its assets (they set
// their own Content-Security-Policy and caching).
func isDocs(path string) bool {
	return path == docsPath || strings.HasPrefix(path, docsPath+"/assets/")
}
