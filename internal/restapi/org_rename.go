package restapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// rename refuses an Organization whose previous rename is unfinished, one
// the platform paused, and one declared elsewhere (Git, kubectl: 409),
// then creates the Organization newName with spec.renamedFrom and the
// (possibly patched) spec, deletes the old one (its finalizer waits for the
// take-over), ends the old sessions, and answers when the new organization is
// Ready with the data moved (202 with a Location after the bound). A failure
// after the new Organization exists leaves the rename to the controller: the
// old organization's data is never dropped while a claimant exists.
func (s *Server) rename(ctx context.Context, p *principal, desired *tenancyv1alpha1.Organization, newName string) (*OrganizationOutput, error) {
	if p.org.Spec.RenamedFrom != "" && p.org.Status.RenamedFrom == "" {
		return nil, huma.Error409Conflict("this organization's previous rename is still being completed; retry once it is Ready")
	}
	if p.org.Paused() {
		return nil, huma.Error409Conflict("the platform has paused this organization; it can be renamed once it is resumed")
	}
	if err := s.refuseIfDeclaredElsewhere(ctx, p.org.Name, "rename"); err != nil {
		return nil, err
	}
	if existing, err := s.liveOrganization(ctx, newName); err != nil {
		return nil, err
	} else if existing != nil {
		return nil, errNameTaken()
	}
	next := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: newName, Labels: p.org.Labels,
		Annotations: carriedAnnotations(p.org.Annotations)}, Spec: desired.Spec}
	next.Spec.RenamedFrom = p.org.Name
	next.Spec.Admin.PasswordSecretRef = nil // the password moves into <new>-admin
	if err := s.client.Create(ctx, next); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errNameTaken()
		}
		return nil, s.kubeError(err)
	}
	if err := s.client.Delete(ctx, p.org, client.Preconditions{UID: &p.org.UID}); err != nil && !apierrors.IsNotFound(err) {
		return nil, s.kubeError(err)
	}
	if err := s.store.RevokeOrganizationSessions(ctx, p.org.Name); err != nil {
		return nil, s.storeError(err)
	}
	org, done := s.waitFor(ctx, newName, func(org *tenancyv1alpha1.Organization) bool {
		return isReady(org) && org.Status.RenamedFrom == p.org.Name
	})
	if org == nil {
		org = next
	}
	status := http.StatusOK
	if !done {
		status = http.StatusAccepted
	}
	return &OrganizationOutput{Status: status, Location: organizationPath(newName), Body: view(org)}, nil
}

// carriedAnnotations are the annotations a rename keeps (the platform's,
// such as the pause annotation): all but the adoption annotation, which
// names data at the old location and must never adopt anything at the new
// one, and kubectl's record of its last apply.
func carriedAnnotations(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if k != tenancyv1alpha1.AnnotationAdoptData && k != corev1.LastAppliedConfigAnnotation {
			out[k] = v
		}
	}
	return out
}
