package restapi

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// Condition is one status condition of an organization.
type Condition struct {
	Type               string    `json:"type" enum:"Ready,Reconciling,Stalled,Migrating,Paused" doc:"The condition (kstatus)"`
	Status             string    `json:"status" enum:"True,False,Unknown"`
	Reason             string    `json:"reason" maxLength:"64" pattern:"^[A-Za-z][A-Za-z0-9]*$" doc:"Why, in one word"`
	Message            string    `json:"message" maxLength:"256" doc:"What the condition means for you (the platform team sees the details)"`
	LastTransitionTime time.Time `json:"lastTransitionTime" maxLength:"64"`
}

// Organization is the API's view of an Organization.
type Organization struct {
	Name        string `json:"name" maxLength:"63" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"The organization's id"`
	DisplayName string `json:"displayName" maxLength:"200"`
	AdminEmail  string `json:"adminEmail" maxLength:"254" format:"email"`
	Tenancy     string `json:"tenancy" enum:"Dedicated,Shared,Auto"`
	Database    string `json:"database" maxLength:"63" pattern:"^[^/\\\\. \"$]*$" doc:"MongoDB database of the tenant's collection (empty until placed)"`
	Collection  string `json:"collection" maxLength:"255" pattern:"^[^$]*$" doc:"MongoDB collection holding the tenant's documents (empty until placed)"`
	// DocumentFilter scopes queries in a shared collection.
	DocumentFilter string      `json:"documentFilter,omitempty" maxLength:"96" pattern:"^\\{\"organization\":\"[a-z0-9-]+\"\\}$" doc:"For a Shared organization, the filter that scopes queries to its documents, e.g. {\"organization\":\"acme\"}"`
	Ready          bool        `json:"ready"`
	Conditions     []Condition `json:"conditions" maxItems:"8"`
	CreatedAt      time.Time   `json:"createdAt" maxLength:"64"`
}

// OrganizationOutput is an organization, with a Location when the change is
// accepted but not yet in effect.
type OrganizationOutput struct {
	Status   int
	Location string `header:"Location" maxLength:"100" pattern:"^/v1/organizations/[a-z0-9-]+$" doc:"Where to poll when the answer is 202"`
	Body     Organization
}

func view(org *tenancyv1alpha1.Organization) Organization {
	v := Organization{
		Name: org.Name, DisplayName: org.Spec.DisplayName, AdminEmail: org.Spec.Admin.Email, Tenancy: string(org.Spec.Tenancy),
		Database: org.Status.Database, Collection: org.Status.Collection, DocumentFilter: org.Status.DocumentFilter,
		CreatedAt:  org.CreationTimestamp.UTC(),
		Ready:      isReady(org),
		Conditions: make([]Condition, 0, len(org.Status.Conditions)),
	}
	for _, c := range org.Status.Conditions {
		v.Conditions = append(v.Conditions, Condition{Type: c.Type, Status: string(c.Status), Reason: c.Reason,
			Message: tenantMessage(c), LastTransitionTime: c.LastTransitionTime.UTC()})
	}
	return v
}

func organizationPath(name string) string { return "/v1/organizations/" + name }

// isReady is true when the current generation is reconciled and Ready.
func isReady(org *tenancyv1alpha1.Organization) bool {
	return org.Status.ObservedGeneration == org.Generation &&
		meta.IsStatusConditionTrue(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
}

// reconciledAt reports whether the controller has made generation Ready.
func reconciledAt(generation int64) func(*tenancyv1alpha1.Organization) bool {
	return func(org *tenancyv1alpha1.Organization) bool {
		return org.Status.ObservedGeneration >= generation && isReady(org)
	}
}

// waitFor polls the cache until done holds for the organization, it is
// Stalled for its current generation (a verdict: waiting longer changes
// nothing) or paused (nothing happens until the platform resumes it), or the change timeout passes. An organization not visible yet
// (just created) is waited for too. It returns the latest organization (nil
// when not found) and whether done held; a failing cache read only ends the
// wait early.
func (s *Server) waitFor(ctx context.Context, name string, done func(*tenancyv1alpha1.Organization) bool) (*tenancyv1alpha1.Organization, bool) {
	var latest *tenancyv1alpha1.Organization
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, s.cfg.ChangeTimeout, true, func(ctx context.Context) (bool, error) {
		org, err := s.liveOrganization(ctx, name)
		if err != nil {
			return false, err
		}
		if org == nil {
			return false, nil
		}
		latest = org
		return done(org) || stalledNow(org) || org.Paused(), nil
	})
	return latest, err == nil && latest != nil && done(latest)
}

// stalledNow reports whether the controller stalled the current generation.
func stalledNow(org *tenancyv1alpha1.Organization) bool {
	c := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == org.Generation
}
