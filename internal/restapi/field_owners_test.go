package restapi

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/fieldowners"
)

// entry is a managedFields entry as the apiserver writes it.
func entry(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: subresource,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}
}

const (
	gitFields = `{"f:spec":{"f:admin":{"f:email":{}},"f:tenancy":{}}}`
	apiFields = `{"f:metadata":{"f:labels":{"f:tenancy.org-operator.io/created-by":{}}},"f:spec":{"f:displayName":{}}}`
)

func orgWith(entries ...metav1.ManagedFieldsEntry) *tenancyv1alpha1.Organization {
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "acme", ResourceVersion: "42",
		Labels: map[string]string{tenancyv1alpha1.LabelCreatedBy: tenancyv1alpha1.CreatedBySignup}, ManagedFields: entries}}
	org.Spec.DisplayName = "Acme"
	org.Spec.Admin.Email = "admin@acme.example"
	org.Spec.Tenancy = tenancyv1alpha1.TenancyDedicated
	return org
}

func decode(t *testing.T, org *tenancyv1alpha1.Organization) []fieldowners.Entry {
	t.Helper()
	entries, err := fieldowners.Decode(org)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestForeignOwners(t *testing.T) {
	org := orgWith(
		entry("argocd-controller", metav1.ManagedFieldsOperationApply, "", gitFields),
		entry(tenancyv1alpha1.FieldManagerAPI, metav1.ManagedFieldsOperationApply, "", apiFields),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:admin":{"f:email":{}}}}`),
		entry(tenancyv1alpha1.FieldManagerController, metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:collection":{}}}`),
	)
	got := foreignOwners(decode(t, org), pathDisplayName, pathAdminEmail)
	want := map[string][]string{".spec.admin.email": {"argocd-controller", "kubectl-edit"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("foreignOwners = %v; want %v (the API's own field and status entries do not count)", got, want)
	}
}

func TestSpecManagers(t *testing.T) {
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    []string
	}{
		{"declared in Git", []metav1.ManagedFieldsEntry{entry("argocd-controller", metav1.ManagedFieldsOperationApply, "", gitFields)},
			[]string{"argocd-controller"}},
		{"created by the API", []metav1.ManagedFieldsEntry{
			entry(tenancyv1alpha1.FieldManagerAPI, metav1.ManagedFieldsOperationUpdate, "", gitFields),
			entry(tenancyv1alpha1.FieldManagerController, metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:finalizers":{".":{},"v:\"tenancy.org-operator.io/finalizer\"":{}}}}`),
			entry(tenancyv1alpha1.FieldManagerController, metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:collection":{}}}`),
		}, nil},
		{"labelled by the platform only", []metav1.ManagedFieldsEntry{
			entry(tenancyv1alpha1.FieldManagerAPI, metav1.ManagedFieldsOperationApply, "", apiFields),
			entry("kubectl-label", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:labels":{"f:team":{}}}}`),
		}, nil},
		{"client-side apply", []metav1.ManagedFieldsEntry{entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "", gitFields)},
			[]string{"kubectl-client-side-apply"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := specManagers(decode(t, orgWith(tt.entries...))); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("specManagers = %v; want %v", got, tt.want)
			}
		})
	}
}

// The apply request keeps every field the API already owns (else the
// apiserver would remove them), sets the change, and pins the
// resourceVersion; fields other managers own are left out.
func TestApplyConfiguration(t *testing.T) {
	org := orgWith(
		entry("argocd-controller", metav1.ManagedFieldsOperationApply, "", gitFields),
		entry(tenancyv1alpha1.FieldManagerAPI, metav1.ManagedFieldsOperationApply, "", apiFields),
	)
	entries := decode(t, org)
	u, err := applyConfiguration(org, apiApplied(entries), map[string]any{".spec.displayName": "Acme Corp"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": tenancyv1alpha1.GroupVersion.String(), "kind": "Organization",
		"metadata": map[string]any{"name": "acme", "resourceVersion": "42",
			"labels": map[string]any{tenancyv1alpha1.LabelCreatedBy: tenancyv1alpha1.CreatedBySignup}},
		"spec": map[string]any{"displayName": "Acme Corp"},
	}
	if !reflect.DeepEqual(u.Object, want) {
		t.Fatalf("apply request = %v\nwant %v", u.Object, want)
	}
	if !apiUpdated(decode(t, orgWith(entry(tenancyv1alpha1.FieldManagerAPI, metav1.ManagedFieldsOperationUpdate, "", apiFields)))) {
		t.Fatal("an Update entry of the API's is not seen as one to upgrade")
	}
	if apiUpdated(entries) {
		t.Fatal("an Apply entry is seen as one to upgrade")
	}
}

func TestApplyConflicts(t *testing.T) {
	err := apierrors.NewApplyConflict([]metav1.StatusCause{
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "argocd-controller"`, Field: ".spec.displayName"},
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-client-side-apply" using tenancy.org-operator.io/v1alpha1 at 2026-11-28T10:00:00Z`, Field: ".spec.displayName"},
	}, "Apply failed with 2 conflicts")
	got, ok := applyConflicts(err)
	want := map[string][]string{".spec.displayName": {"argocd-controller", "kubectl-client-side-apply"}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("applyConflicts = %v, %v; want %v", got, ok, want)
	}
	if _, ok := applyConflicts(apierrors.NewConflict(schema.GroupResource{Resource: "organizations"}, "acme", errors.New("changed"))); ok {
		t.Fatal("an optimistic-lock conflict read as a field conflict")
	}
	problem := errFieldsManagedElsewhere(got)
	var se huma.StatusError
	if !errors.As(problem, &se) || se.GetStatus() != 409 {
		t.Fatalf("problem = %v; want a 409", problem)
	}
	if msg := problem.Error(); !strings.Contains(msg, `displayName is managed by "argocd-controller", "kubectl-client-side-apply"`) ||
		!strings.Contains(msg, "change it there") {
		t.Fatalf("message %q does not name the owners and say where to change it", msg)
	}
}
