package restapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reasonsOfTheContract reads every Reason* constant of api/v1alpha1's
// well_known.go, so a reason added there without a tenant message fails
// this test.
func reasonsOfTheContract(t *testing.T) map[string]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "api", "v1alpha1", "well_known.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if strings.HasPrefix(name.Name, "Reason") && i < len(spec.Values) {
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					out[name.Name] = v
				}
			}
		}
		return true
	})
	if len(out) < 15 {
		t.Fatalf("found only %d reasons in %s", len(out), path)
	}
	return out
}

// Issue 20: tenants and anonymous sign-up callers saw the controller's
// messages, with raw driver errors, a retained tenant's UID and document
// count, and the new name of a renamed tenant.
func TestTenantMessages(t *testing.T) {
	leaky := "Collection orgs.org_x holds the data of organization x (uid 5f0c-retained), 1234 documents, renamed to secret-new-name: " +
		"server selection error: server selection timeout, current topology: { Type: Unknown, Servers: [{ Addr: 10.0.0.7:27017 }] }"
	for constant, reason := range reasonsOfTheContract(t) {
		msg, ok := tenantMessages[reason]
		if !ok {
			t.Errorf("%s (%q) has no tenant message", constant, reason)
			continue
		}
		got := tenantMessage(metav1.Condition{Reason: reason, Message: leaky})
		if got != msg {
			t.Errorf("%s: tenantMessage = %q; want %q", constant, got, msg)
		}
		for _, secret := range []string{"5f0c", "1234", "secret-new-name", "10.0.0.7", "server selection"} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: the tenant message %q shows %q", constant, got, secret)
			}
		}
	}
	if got := tenantMessage(metav1.Condition{Reason: "SomethingNew", Message: leaky}); strings.Contains(got, "5f0c") ||
		!strings.Contains(got, "SomethingNew") {
		t.Errorf("an unknown reason gives %q; want a generic message naming the reason only", got)
	}
}
