package restapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// maxAccessBindings bounds the list (and documents the bound): an
// organization with more bindings gets the first ones by namespace and name
// and truncated: true.
const maxAccessBindings = 500

// AccessBinding is the API's view of one OrganizationAccess bound to the
// organization. It never carries a credential.
type AccessBinding struct {
	Namespace string `json:"namespace" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The application's namespace"`
	Name      string `json:"name" maxLength:"253" pattern:"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" doc:"The OrganizationAccess's name"`
	Role      string `json:"role" enum:"ReadWrite,Read" doc:"What the application may do with the organization's documents"`
	Isolation string `json:"isolation,omitempty" enum:"Collection,SharedCollection,NotEnforced" doc:"What MongoDB enforces for the application's user (empty until decided): its own collection, the shared collection (the application applies the filter), or nothing (the server has no custom roles)"`
	// RotatedAt is nil before the first credentials.
	RotatedAt *time.Time `json:"rotatedAt,omitempty" maxLength:"64" doc:"When the application's credentials last changed"`
	Ready     bool       `json:"ready" doc:"The application's Secret holds working credentials for the latest spec"`
	Reason    string     `json:"reason,omitempty" maxLength:"64" pattern:"^[A-Za-z][A-Za-z0-9]*$" doc:"Why it is not Ready, in one word (the platform team sees the details)"`
}

// AccessList is an organization's bindings.
type AccessList struct {
	Items     []AccessBinding `json:"items" maxItems:"500"`
	Truncated bool            `json:"truncated" doc:"More bindings exist than the list holds"`
}

// AccessListOutput is the answer of listAccess.
type AccessListOutput struct {
	Body AccessList
}

func (s *Server) registerAccess() {
	register(s, huma.Operation{
		OperationID: "listAccess", Method: http.MethodGet, Path: organizationPathTemplate + "/access", Tags: []string{tagOrganizations},
		Summary: "List the applications that have access to your organization's data", Security: bearer,
		Description: "The OrganizationAccess objects bound to your organization (by its name, or by the name it was renamed " +
			"from), sorted by namespace and name. The platform decides which namespaces may bind (the Organization's " +
			"spec.access); credentials are only in the applications' Secrets, never here. Another organization's name " +
			"answers exactly like a missing one (404).",
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable},
	}, s.listAccess)
}

func (s *Server) listAccess(ctx context.Context, in *NameInput) (*AccessListOutput, error) {
	p, err := s.ownOrganization(ctx, in.Authorization, in.Name)
	if err != nil {
		return nil, err
	}
	var list tenancyv1alpha1.OrganizationAccessList
	if err := s.client.List(ctx, &list, client.MatchingFields{tenancyv1alpha1.IndexAccessOrganization: p.org.Name}); err != nil {
		return nil, s.kubeError(err)
	}
	out := &AccessListOutput{Body: AccessList{Items: []AccessBinding{}}}
	for i := range list.Items {
		if a := &list.Items[i]; boundTo(a) == p.org.Name {
			out.Body.Items = append(out.Body.Items, accessView(a))
		}
	}
	slices.SortFunc(out.Body.Items, func(a, b AccessBinding) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if len(out.Body.Items) > maxAccessBindings {
		out.Body.Items, out.Body.Truncated = out.Body.Items[:maxAccessBindings], true
	}
	return out, nil
}

// boundTo is the organization an access reaches: the one the controller
// bound it to, or before that the one it names.
func boundTo(a *tenancyv1alpha1.OrganizationAccess) string {
	if a.Status.Organization != "" {
		return a.Status.Organization
	}
	return a.Spec.Organization
}

func accessView(a *tenancyv1alpha1.OrganizationAccess) AccessBinding {
	v := AccessBinding{Namespace: a.Namespace, Name: a.Name, Role: string(a.Spec.Role), Isolation: string(a.Status.Isolation)}
	if v.Role == "" {
		v.Role = string(tenancyv1alpha1.AccessReadWrite)
	}
	if a.Status.RotatedAt != nil {
		t := a.Status.RotatedAt.UTC()
		v.RotatedAt = &t
	}
	ready := meta.FindStatusCondition(a.Status.Conditions, tenancyv1alpha1.ConditionReady)
	v.Ready = a.Status.ObservedGeneration == a.Generation && ready != nil && ready.Status == "True" &&
		ready.ObservedGeneration == a.Generation
	if !v.Ready && ready != nil {
		v.Reason = ready.Reason
	}
	return v
}
