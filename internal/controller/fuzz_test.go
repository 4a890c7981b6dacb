package controller

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// orgName is the CRD's rule for metadata.name (CEL on the Organization).
var orgName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func validName(s string) bool { return len(s) <= 63 && orgName.MatchString(s) }

// Properties of the name -> place mapping, each able to fail:
//   - the CRD's name rule is exactly Kubernetes' DNS-1123 label (the
//     REST API's pattern and the CRD's CEL share this regular expression);
//   - every accepted name maps to a valid collection that is no system or
//     operator collection, carries the tenant prefix, and maps back to the
//     name (the budget and the audit strip the prefix to find the owner);
//   - with any database name the operator accepts, the namespace
//     <database>.<collection> stays within MongoDB's 255 bytes;
//   - two names never map to one collection;
//   - the shared document filter renders the name exactly.
func FuzzLocationNaming(f *testing.F) {
	for _, s := range [][3]string{{"acme", "acme-corp", "orgs"}, {"a", "b", "x"}, {"system", "admins", "tenants"}, {"0", "o", "db"},
		{"a-very-long-organization-name-that-is-exactly-sixty-three-chars", "x", strings.Repeat("d", 63)},
		{"-leading", "trailing-", "with.dot"}, {"UPPER", "ümlaut", "a/b"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, database string) {
		if got, want := validName(a), len(validation.IsDNS1123Label(a)) == 0; got != want {
			t.Fatalf("name rule on %q: %v; DNS-1123 label: %v", a, got, want)
		}
		if !validName(a) {
			return
		}
		coll := tenancyv1alpha1.DedicatedCollection(a)
		if err := mongostore.ValidateCollectionName(coll); err != nil {
			t.Fatalf("%q maps to an invalid collection: %v", a, err)
		}
		if back, ok := strings.CutPrefix(coll, tenancyv1alpha1.DedicatedCollectionPrefix); !ok || back != a {
			t.Fatalf("%q maps to %q, which does not map back to it", a, coll)
		}
		if mongostore.ValidateDatabaseName(database) == nil {
			if ns := len(database) + 1 + len(coll); ns > 255 {
				t.Fatalf("namespace %s.%s is %d bytes, beyond MongoDB's 255", database, coll, ns)
			}
		}
		if validName(b) && a != b && tenancyv1alpha1.DedicatedCollection(b) == coll {
			t.Fatalf("%q and %q map to one collection", a, b)
		}
		var filter map[string]string
		if err := json.Unmarshal([]byte(documentFilter(mongostore.Location{Collection: "shared", Organization: a})), &filter); err != nil {
			t.Fatal(err)
		}
		if len(filter) != 1 || filter[mongostore.TenantField] != a {
			t.Fatalf("document filter of %q is %v", a, filter)
		}
	})
}
