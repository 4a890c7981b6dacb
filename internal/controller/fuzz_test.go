package controller

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// orgName is the CRD's rule for metadata.name (CEL on the Organization).
var orgName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func validName(s string) bool { return len(s) <= 63 && orgName.MatchString(s) }

// Every name the CRD accepts maps to a dedicated collection that is a
// valid, non-reserved, non-system MongoDB collection within the namespace
// limit (database "orgs" and longer database names up to 63 bytes), and two
// names never map to one collection; the shared document filter renders
// the name exactly.
func FuzzLocationNaming(f *testing.F) {
	for _, s := range [][2]string{{"acme", "acme-corp"}, {"a", "b"}, {"system", "admins"}, {"0", "o"},
		{"a-very-long-organization-name-that-is-exactly-sixty-three-chars", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !validName(a) {
			return
		}
		coll := tenancyv1alpha1.DedicatedCollection(a)
		if err := mongostore.ValidateCollectionName(coll); err != nil {
			t.Fatalf("%q maps to an invalid collection: %v", a, err)
		}
		if !strings.HasPrefix(coll, tenancyv1alpha1.DedicatedCollectionPrefix) {
			t.Fatalf("%q maps to %q outside the tenant prefix", a, coll)
		}
		if ns := 63 + 1 + len(coll); ns > 255 {
			t.Fatalf("namespace of %q is %d bytes", coll, ns)
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
