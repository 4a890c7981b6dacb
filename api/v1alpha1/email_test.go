package v1alpha1

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

var (
	crdRuleOnce sync.Once
	crdRule     *regexp.Regexp
	crdRuleErr  error
)

// crdEmailRule is the regular expression of the CEL rule on spec.admin.email
// in the generated CRD (config/crd/bases), read from the file, so that the
// API's rule is checked against what the apiserver really enforces.
func crdEmailRule(t testing.TB) *regexp.Regexp {
	t.Helper()
	crdRuleOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "tenancy.org-operator.io_organizations.yaml"))
		if err != nil {
			crdRuleErr = err
			return
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if crdRuleErr = yaml.Unmarshal(data, &crd); crdRuleErr != nil {
			return
		}
		email := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["admin"].Properties["email"]
		for _, v := range email.XValidations {
			if expr, ok := strings.CutPrefix(v.Rule, "self.matches('"); ok {
				crdRule, crdRuleErr = regexp.Compile(strings.ReplaceAll(strings.TrimSuffix(expr, "')"), `\\`, `\`))
				return
			}
		}
	})
	if crdRuleErr != nil || crdRule == nil {
		t.Fatalf("reading the CRD's email rule: %v", crdRuleErr)
	}
	return crdRule
}

func TestParseEmail(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"admin@acme.example", "admin@acme.example", true},
		{"Admin@ACME.Example", "admin@acme.example", true},
		{"first.last+tag@sub.acme.example", "first.last+tag@sub.acme.example", true},
		{"<admin@acme.example>", "", false},
		{"Admin <admin@acme.example>", "", false},
		{"admin@acme.example (comment)", "", false},
		{" admin@acme.example", "", false},
		{"x@y", "", false},
		{"no-at-sign.example", "", false},
		{"a@b@c.example", "", false},
		{"a b@c.example", "", false},
		{"", "", false},
		{strings.Repeat("a", 250) + "@b.example", "", false},
	} {
		got, err := ParseEmail(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err == nil && !crdEmailRule(t).MatchString(tt.in) {
			t.Errorf("ParseEmail accepted %q, which the CRD rejects", tt.in)
		}
	}
}

// FuzzParseEmail: whatever the API's rule accepts, the CRD accepts, and the
// result is the lower-cased input.
func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{"admin@acme.example", "<a@b.example>", "x@y", `"q"@b.example`, "a@b.c", "A@B.C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseEmail(s)
		if err != nil {
			return
		}
		if !crdEmailRule(t).MatchString(s) {
			t.Fatalf("ParseEmail accepted %q, which the CRD rejects", s)
		}
		if got != strings.ToLower(s) {
			t.Fatalf("ParseEmail(%q) = %q; want the lower-cased input", s, got)
		}
	})
}
