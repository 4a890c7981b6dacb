package restapi

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/fieldowners"
)

// Field ownership. The API writes Organizations with server-side apply as
// tenancyv1alpha1.FieldManagerAPI and never forces: a field another field
// manager owns (Argo CD, Flux, kubectl apply, kubectl create) belongs to
// whoever declared it (Git, usually), and the tenant is told to change it
// there. Fields nobody else declares belong to the tenant once the API
// writes them, and survive later syncs that leave them out.

// Spec paths the API writes, and the PATCH body field each comes from.
var (
	pathDisplayName = fieldpath.MakePathOrDie("spec", "displayName")
	pathAdminEmail  = fieldpath.MakePathOrDie("spec", "admin", "email")
	bodyFields      = map[string]string{pathDisplayName.String(): "displayName", pathAdminEmail.String(): "adminEmail"}
)

// foreignOwners returns, for each of paths, the field managers other than
// the API that own it, sorted; paths nobody else owns are absent.
func foreignOwners(entries []fieldowners.Entry, paths ...fieldpath.Path) map[string][]string {
	out := map[string][]string{}
	for _, p := range paths {
		if owners := fieldowners.Owners(entries, p, tenancyv1alpha1.FieldManagerAPI); len(owners) > 0 {
			out[p.String()] = owners
		}
	}
	return out
}

// specManagers returns the field managers other than the API that own any
// part of the spec, sorted: an Organization declared in Git or with kubectl.
func specManagers(entries []fieldowners.Entry) []string {
	return fieldowners.SpecManagers(entries, tenancyv1alpha1.FieldManagerAPI)
}

// apiApplied is the set of fields the API's Apply entry holds (empty if none).
func apiApplied(entries []fieldowners.Entry) *fieldpath.Set {
	for _, e := range entries {
		if e.Manager == tenancyv1alpha1.FieldManagerAPI && e.Operation == metav1.ManagedFieldsOperationApply {
			return e.Fields
		}
	}
	return fieldpath.NewSet()
}

// apiUpdated reports whether the API owns fields through an Update entry
// (an Organization it created): server-side apply treats that entry as
// another manager, so it is upgraded to the API's Apply entry first.
func apiUpdated(entries []fieldowners.Entry) bool {
	return slices.ContainsFunc(entries, func(e fieldowners.Entry) bool {
		return e.Manager == tenancyv1alpha1.FieldManagerAPI && e.Operation == metav1.ManagedFieldsOperationUpdate
	})
}

// applyConfiguration is the API's apply request for live: every field the
// API already applies, with its live value (a field left out would lose its
// owner and be removed), then changes, by path. It carries live's
// resourceVersion, so a concurrent change fails it instead of being lost.
// A path through a list keeps the whole list (the Organization has none the
// API writes).
func applyConfiguration(live *tenancyv1alpha1.Organization, owned *fieldpath.Set, changes map[string]any) (*unstructured.Unstructured, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(tenancyv1alpha1.GroupVersion.String())
	u.SetKind("Organization")
	u.SetName(live.Name)
	u.SetResourceVersion(live.ResourceVersion)
	var copyErr error
	owned.Leaves().Iterate(func(p fieldpath.Path) {
		fields := fieldNames(p)
		if v, found, err := unstructured.NestedFieldCopy(content, fields...); err != nil {
			copyErr = err
		} else if found && !isIdentity(fields) {
			copyErr = unstructured.SetNestedField(u.Object, v, fields...)
		}
	})
	if copyErr != nil {
		return nil, copyErr
	}
	for path, v := range changes {
		if err := unstructured.SetNestedField(u.Object, v, splitPath(path)...); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// splitPath splits a field path's string form, ".spec.admin.email".
func splitPath(s string) []string { return strings.Split(strings.TrimPrefix(s, "."), ".") }

// fieldNames is p up to its first element that is not a field name.
func fieldNames(p fieldpath.Path) []string {
	var out []string
	for _, pe := range p {
		if pe.FieldName == nil {
			break
		}
		out = append(out, *pe.FieldName)
	}
	return out
}

// isIdentity reports whether fields is one the apply request already sets.
func isIdentity(fields []string) bool {
	switch strings.Join(fields, ".") {
	case "apiVersion", "kind", "metadata.name", "metadata.resourceVersion":
		return true
	}
	return false
}

// errFieldsManagedElsewhere is the 409 for a PATCH of fields other field
// managers own: it names each field's owners and says where to change it.
func errFieldsManagedElsewhere(owners map[string][]string) error {
	paths := make([]string, 0, len(owners))
	for p := range owners {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	parts := make([]string, 0, len(paths))
	details := make([]error, 0, len(paths))
	for _, p := range paths {
		field := bodyFields[p]
		if field == "" {
			field = strings.TrimPrefix(p, ".")
		}
		managers := quoteAll(owners[p])
		parts = append(parts, fmt.Sprintf("%s is managed by %s", field, managers))
		details = append(details, &huma.ErrorDetail{Location: "body." + field, Value: owners[p],
			Message: "managed by " + managers + " (the Organization's manifest): change it there"})
	}
	return huma.Error409Conflict(strings.Join(parts, "; ")+
		": the platform declares it (in Git or with kubectl), so change it there; this API changes only the fields the platform leaves out", details...)
}

// errManagedElsewhere is the 409 for a rename or deletion of an
// Organization whose spec other field managers own.
func errManagedElsewhere(action string, managers []string) error {
	return huma.Error409Conflict(fmt.Sprintf("this organization is declared by %s (in Git or with kubectl): %s it there; "+
		"through this API it would be recreated or fought over by the next sync", quoteAll(managers), action))
}

// conflictWith matches the manager in the apiserver's field conflict message,
// e.g. `conflict with "argocd-controller" using tenancy.org-operator.io/v1alpha1`.
var conflictWith = regexp.MustCompile(`conflict with "([^"]+)"`)

// applyConflicts reads the field managers' conflicts out of a server-side
// apply error; ok is false when err is not one.
func applyConflicts(err error) (map[string][]string, bool) {
	var se apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &se) || se.Status().Details == nil {
		return nil, false
	}
	out := map[string][]string{}
	for _, c := range se.Status().Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		manager := "another field manager"
		if m := conflictWith.FindStringSubmatch(c.Message); m != nil {
			manager = m[1]
		}
		if !slices.Contains(out[c.Field], manager) {
			out[c.Field] = append(out[c.Field], manager)
		}
	}
	return out, len(out) > 0
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
