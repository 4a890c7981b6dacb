package restapi

import (
	"context"

	"github.com/danielgtaylor/huma/v2"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/fieldowners"
)

// applySpec writes changes (spec path -> value) to the Organization name
// with server-side apply, without force, and returns the generation written.
// A field another field manager owns is a 409 naming it, checked before
// anything is written (and again by the apiserver, for a race); a
// concurrent change of the Organization is a 409 to retry.
func (s *Server) applySpec(ctx context.Context, name string, changes map[string]any) (int64, error) {
	live, entries, err := s.managedOrganization(ctx, name)
	if err != nil {
		return 0, err
	}
	paths := make([]fieldpath.Path, 0, len(changes))
	for p := range changes {
		paths = append(paths, pathOf(p))
	}
	if owners := foreignOwners(entries, paths...); len(owners) > 0 {
		return 0, errFieldsManagedElsewhere(owners)
	}
	if apiUpdated(entries) {
		if live, entries, err = s.upgradeOwnership(ctx, live); err != nil {
			return 0, err
		}
	}
	u, err := applyConfiguration(live, apiApplied(entries), changes)
	if err != nil {
		s.log.Error(err, "building the apply request", "organization", name)
		return 0, huma.Error500InternalServerError("could not build the change")
	}
	if err := s.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u)); err != nil {
		if conflicts, ok := applyConflicts(err); ok {
			return 0, errFieldsManagedElsewhere(conflicts)
		}
		return 0, s.kubeError(err)
	}
	return u.GetGeneration(), nil
}

// managedOrganization reads the Organization name from the apiserver, with
// its managedFields decoded.
func (s *Server) managedOrganization(ctx context.Context, name string) (*tenancyv1alpha1.Organization, []fieldowners.Entry, error) {
	org := &tenancyv1alpha1.Organization{}
	if err := s.reader.Get(ctx, client.ObjectKey{Name: name}, org); err != nil {
		return nil, nil, s.kubeError(err)
	}
	entries, err := fieldowners.Decode(org)
	if err != nil {
		s.log.Error(err, "reading managedFields", "organization", name)
		return nil, nil, errUnavailable()
	}
	return org, entries, nil
}

// upgradeOwnership moves the fields the API owns through an Update entry
// (it created the Organization: sign-up, rename) into its Apply entry, as
// kubectl does when it moves from client-side to server-side apply, and
// reads the Organization again. The patch carries the resourceVersion: a
// concurrent change makes it a 409 to retry.
func (s *Server) upgradeOwnership(ctx context.Context, live *tenancyv1alpha1.Organization) (*tenancyv1alpha1.Organization, []fieldowners.Entry, error) {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New(tenancyv1alpha1.FieldManagerAPI), tenancyv1alpha1.FieldManagerAPI)
	if err != nil {
		s.log.Error(err, "upgrading the API's managed fields", "organization", live.Name)
		return nil, nil, errUnavailable()
	}
	if patch != nil {
		if err := s.client.Patch(ctx, live.DeepCopy(), client.RawPatch(types.JSONPatchType, patch)); err != nil {
			return nil, nil, s.kubeError(err)
		}
	}
	return s.managedOrganization(ctx, live.Name)
}

// refuseIfDeclaredElsewhere is a 409 when field managers other than the API
// own part of the Organization's spec: it comes from Git or kubectl, and a
// rename or deletion here would be undone or fought by the next sync.
func (s *Server) refuseIfDeclaredElsewhere(ctx context.Context, name, action string) error {
	_, entries, err := s.managedOrganization(ctx, name)
	if err != nil {
		return err
	}
	if managers := specManagers(entries); len(managers) > 0 {
		return errManagedElsewhere(action, managers)
	}
	return nil
}

// specChanges are desired's spec fields the API writes that differ from org's, by path.
func specChanges(org, desired *tenancyv1alpha1.Organization) map[string]any {
	changes := map[string]any{}
	if desired.Spec.DisplayName != org.Spec.DisplayName {
		changes[pathDisplayName.String()] = desired.Spec.DisplayName
	}
	if desired.Spec.Admin.Email != org.Spec.Admin.Email {
		changes[pathAdminEmail.String()] = desired.Spec.Admin.Email
	}
	return changes
}

// pathOf turns ".spec.admin.email" back into a field path.
func pathOf(s string) fieldpath.Path {
	fields := splitPath(s)
	p := make(fieldpath.Path, 0, len(fields))
	for _, f := range fields {
		p = append(p, fieldpath.PathElement{FieldName: ptr.To(f)})
	}
	return p
}
