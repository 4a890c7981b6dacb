package workload

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/check"
)

// Checker compares a Model with the running system. It reads the
// apiserver without a cache, MongoDB through its own client and logs in
// over HTTP; it shares no code with the operator beyond the API types.
type Checker struct {
	K8s    client.Client
	DB     *check.Mongo
	APIURL string
	// Shared is the shared collection, CredentialsNamespace where the
	// operator keeps credentials Secrets.
	Shared               string
	CredentialsNamespace string
	// AppNamespace is where the applications' accesses live ("" when the
	// workload grants none).
	AppNamespace string
}

// tenantField marks a document of the shared collection with its
// organization (what applications write; the operator adds and removes it
// when it moves documents).
const tenantField = "organization"

// maxReported caps the violations reported per kind, to keep a failure readable.
const maxReported = 12

// WaitConverged polls Converged until it reports nothing or timeout
// passes, and returns the last violations (nil when converged).
func (c *Checker) WaitConverged(ctx context.Context, m *Model, timeout time.Duration) []string {
	var last []string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		// Each look gets its own time, so the last one is complete and
		// says what is wrong rather than that the wait ran out.
		one, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		last = c.Converged(one, m)
		return len(last) == 0, nil
	})
	if err == nil {
		return nil
	}
	return last
}

// Converged lists every way the cluster and MongoDB differ from the model:
// Organizations not Ready for their generation or still moving, a tenant's
// documents not exactly once at its location (none lost, none duplicated,
// none in two places), retained data changed, admin records not exactly
// one per live organization, orphan collections, leftovers of deleted
// organizations, and for applications' accesses what access_checker.go
// lists. A read error is reported as a violation too.
func (c *Checker) Converged(ctx context.Context, m *Model) []string {
	return slices.Concat(c.organizations(ctx, m), c.documents(ctx, m), c.admins(ctx, m), c.secrets(ctx, m), c.accesses(ctx, m))
}

func (c *Checker) organizations(ctx context.Context, m *Model) []string {
	var list tenancyv1alpha1.OrganizationList
	if err := c.K8s.List(ctx, &list); err != nil {
		return []string{"list Organizations: " + err.Error()}
	}
	var out []string
	seen := map[string]bool{}
	for i := range list.Items {
		o := &list.Items[i]
		seen[o.Name] = true
		t := m.Get(o.Name)
		if t == nil {
			out = append(out, fmt.Sprintf("Organization %s exists but the workload deleted it (deletionTimestamp %v, finalizers %v)",
				o.Name, o.DeletionTimestamp, o.Finalizers))
			continue
		}
		out = append(out, organizationState(o, t, c.Shared)...)
	}
	for _, n := range m.Names() {
		if !seen[n] {
			out = append(out, "Organization "+n+" is missing")
		}
	}
	return out
}

// organizationState reports how o differs from converged for t.
func organizationState(o *tenancyv1alpha1.Organization, t *Tenant, shared string) []string {
	coll, _ := t.Location(shared)
	switch err := convergence.Check(o); {
	case o.DeletionTimestamp != nil:
		return []string{"Organization " + o.Name + " is being deleted"}
	case err != nil:
		return []string{err.Error()}
	case o.Status.Collection != coll:
		return []string{fmt.Sprintf("Organization %s: status.collection %q, want %q", o.Name, o.Status.Collection, coll)}
	}
	return nil
}

// place is where one document was found.
type place struct {
	collection, organization string
	n                        int
}

func (p place) String() string {
	if p.organization != "" {
		return fmt.Sprintf("%s{organization:%s}", p.collection, p.organization)
	}
	return p.collection
}

// expectation is where one document must be, and who owns it.
type expectation struct {
	place
	owner string
}

func (c *Checker) documents(ctx context.Context, m *Model) []string {
	colls, err := c.DB.Collections(ctx)
	if err != nil {
		return []string{"list collections: " + err.Error()}
	}
	want, wantColls := c.expected(m)
	var out []string
	found := map[string][]place{}
	for _, coll := range colls {
		if coll != c.Shared && !strings.HasPrefix(coll, tenancyv1alpha1.DedicatedCollectionPrefix) {
			continue
		}
		if coll != c.Shared && !wantColls[coll] {
			out = append(out, "orphan collection "+coll)
		}
		var docs []bson.M
		if err := c.DB.Decode(ctx, coll, nil, &docs); err != nil {
			return append(out, fmt.Sprintf("read %s: %v", coll, err))
		}
		for _, d := range docs {
			id := fmt.Sprint(d["_id"])
			org, _ := d[tenantField].(string)
			found[id] = append(found[id], place{collection: coll, organization: org, n: intField(d["n"])})
		}
	}
	for coll := range wantColls {
		if !slices.Contains(colls, coll) {
			out = append(out, "collection "+coll+" is missing")
		}
	}
	var docProblems []string
	for id, e := range want {
		if got := found[id]; len(got) != 1 || got[0] != e.place {
			docProblems = append(docProblems, fmt.Sprintf("document %s of %s: found at %v, want exactly once at %s (n=%d)", id, e.owner, got, e.place, e.n))
		}
	}
	for id, got := range found {
		if _, ok := want[id]; !ok {
			docProblems = append(docProblems, fmt.Sprintf("unexpected document %s at %v", id, got))
		}
	}
	slices.Sort(docProblems)
	if len(docProblems) > maxReported {
		docProblems = append(docProblems[:maxReported], fmt.Sprintf("... and %d more document problems", len(docProblems)-maxReported))
	}
	return append(out, docProblems...)
}

// expected is where every document must be, and which dedicated
// collections must exist (live Dedicated tenants and retained ones).
func (c *Checker) expected(m *Model) (map[string]expectation, map[string]bool) {
	want := map[string]expectation{}
	colls := map[string]bool{}
	add := func(owner, coll string, filtered bool, docs map[string]int) {
		org := ""
		if filtered {
			org = owner
		} else {
			colls[coll] = true
		}
		for id, n := range docs {
			want[id] = expectation{place: place{collection: coll, organization: org, n: n}, owner: owner}
		}
	}
	for _, t := range m.Live() {
		coll, filtered := t.Location(c.Shared)
		add(t.Name, coll, filtered, t.Docs)
	}
	for _, r := range m.RetainedData() {
		add(r.Name, r.Collection, r.Filtered, r.Docs)
	}
	return want, colls
}

func (c *Checker) admins(ctx context.Context, m *Model) []string {
	var records []struct {
		Organization string `bson:"organization"`
	}
	if err := c.DB.Decode(ctx, "admins", nil, &records); err != nil {
		return []string{"read admins: " + err.Error()}
	}
	count := map[string]int{}
	for _, r := range records {
		count[r.Organization]++
	}
	var out []string
	for _, n := range m.Names() {
		if count[n] != 1 {
			out = append(out, fmt.Sprintf("%d admin records for live organization %s, want 1", count[n], n))
		}
		delete(count, n)
	}
	for n, k := range count {
		out = append(out, fmt.Sprintf("%d admin records for %s, which is not a live organization", k, n))
	}
	slices.Sort(out)
	return out
}

// secrets reports a deleted organization's credentials Secret still there.
func (c *Checker) secrets(ctx context.Context, m *Model) []string {
	var out []string
	for _, n := range m.Deleted() {
		if m.Get(n) != nil {
			continue
		}
		err := c.K8s.Get(ctx, client.ObjectKey{Namespace: c.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(n)}, &corev1.Secret{})
		if err == nil {
			out = append(out, "credentials Secret of deleted organization "+n+" still exists")
		} else if !apierrors.IsNotFound(err) {
			out = append(out, "get Secret: "+err.Error())
		}
	}
	return out
}

// Logins checks the accounts: every live admin whose password is known logs in with the model's
// password (and gets a token for its own organization), the last old
// password of each is refused, and every revoked token is refused.
func (c *Checker) Logins(ctx context.Context, m *Model) []string {
	var out []string
	for _, t := range m.Live() {
		if t.Password == "" {
			continue // not read yet (Seed reads it)
		}
		r, err := login(ctx, c.APIURL, t.Email, t.Password)
		switch {
		case err != nil:
			out = append(out, "login "+t.Name+": "+err.Error())
			continue
		case r.Status != http.StatusOK:
			out = append(out, fmt.Sprintf("login %s with its current password: %d %s", t.Name, r.Status, r.Body))
			continue
		}
		body, _ := r.JSON()
		if body["organization"] != t.Name {
			out = append(out, fmt.Sprintf("login of %s's admin acts for %v", t.Name, body["organization"]))
		}
		if k := len(t.OldPasswords); k > 0 {
			old := t.OldPasswords[k-1]
			r, err := login(ctx, c.APIURL, t.Email, old)
			if err != nil || r.Status != http.StatusUnauthorized {
				out = append(out, fmt.Sprintf("login %s with a replaced password: %d %v, want 401", t.Name, r.Status, err))
			}
		}
	}
	for name, tokens := range m.Revoked() {
		for _, tok := range tokens {
			r, err := apiclient.Do(ctx, c.APIURL, http.MethodGet, "/v1/organizations/"+name, tok, nil)
			if err != nil || r.Status != http.StatusUnauthorized {
				out = append(out, fmt.Sprintf("a revoked token of %s: GET answered %d %v, want 401", name, r.Status, err))
			}
		}
	}
	return out
}

func intField(v any) int {
	switch n := v.(type) {
	case int32:
		return int(n)
	case int64:
		return int(n)
	}
	return -1
}
