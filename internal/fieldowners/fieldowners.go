// Package fieldowners reads an object's metadata.managedFields: which field
// manager (Argo CD, Flux, kubectl, the REST API, the controller) owns which
// field. The REST API uses it to leave fields Git declares alone, and the
// controller to notice when the platform declares an Organization that a
// sign-up created.
package fieldowners

import (
	"bytes"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Entry is one field manager's entry for the main resource.
type Entry struct {
	Manager   string
	Operation metav1.ManagedFieldsOperationType
	Fields    *fieldpath.Set
}

// Decode returns obj's managedFields entries for the main resource (entries
// of subresources such as status are left out). An entry that cannot be
// decoded is an error naming its manager; nothing is returned then.
func Decode(obj metav1.Object) ([]Entry, error) {
	var out []Entry
	for _, e := range obj.GetManagedFields() {
		if e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.GetRawBytes())); err != nil {
			return nil, fmt.Errorf("decoding the managed fields of %q: %w", e.Manager, err)
		}
		out = append(out, Entry{Manager: e.Manager, Operation: e.Operation, Fields: set})
	}
	return out, nil
}

// Owners returns the managers, other than those in except, that own path
// (or a field below it), sorted and without repeats.
func Owners(entries []Entry, path fieldpath.Path, except ...string) []string {
	var out []string
	for _, e := range entries {
		if slices.Contains(except, e.Manager) || slices.Contains(out, e.Manager) {
			continue
		}
		if covers(e.Fields, path) {
			out = append(out, e.Manager)
		}
	}
	slices.Sort(out)
	return out
}

// covers reports whether set holds path itself or a field below it.
func covers(set *fieldpath.Set, path fieldpath.Path) bool {
	if set.Has(path) {
		return true
	}
	sub := set
	for _, pe := range path {
		sub = sub.WithPrefix(pe)
	}
	return !sub.Empty()
}

// specPath is the path of an object's spec.
var specPath = fieldpath.Path{fieldpath.PathElement{FieldName: ptr.To("spec")}}

// SpecManagers returns the managers, other than those in except, that own
// any part of the spec, sorted: for an Organization, who declares it (Git
// through Argo CD or Flux, kubectl).
func SpecManagers(entries []Entry, except ...string) []string {
	return Owners(entries, specPath, except...)
}
