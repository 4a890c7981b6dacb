package audit

import (
	"slices"
	"strings"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
)

// OrphanAccessUser is a MongoDB user of the operator's naming scheme
// (oa.<organization>.<access UID>.<slot>) that no OrganizationAccess owns:
// left behind by an access deleted while no manager ran, or written by
// hand. The operator never drops it; dropUser it once nothing uses it.
type OrphanAccessUser struct {
	User         string `json:"user"`
	Organization string `json:"organization"`
}

// OrphanAccessRole is a custom role of the operator's naming scheme
// (oa.<organization>.read|readWrite) whose Organization does not exist.
type OrphanAccessRole struct {
	Role         string `json:"role"`
	Organization string `json:"organization"`
}

// AnalyzeAccess adds to r the access users no OrganizationAccess owns (by
// the UID in the name) and the access roles no Organization owns. users
// and roles are the names MongoDB lists with the operator's prefix; a name
// of that prefix the scheme does not parse is reported too. Pure.
func (r *Report) AnalyzeAccess(accesses []tenancyv1alpha1.OrganizationAccess, orgs []tenancyv1alpha1.Organization,
	users, roles []string) {
	uids := map[string]bool{}
	for _, a := range accesses {
		uids[string(a.UID)] = true
	}
	names := map[string]bool{}
	for _, o := range orgs {
		names[o.Name] = true
	}
	for _, u := range slices.Sorted(slices.Values(users)) {
		org, uid, _, ok := access.ParseUserName(u)
		if !ok || !uids[uid] {
			r.OrphanAccessUsers = append(r.OrphanAccessUsers, OrphanAccessUser{User: u, Organization: org})
		}
	}
	for _, role := range slices.Sorted(slices.Values(roles)) {
		org, ok := roleOrganization(role)
		if !ok || !names[org] {
			r.OrphanAccessRoles = append(r.OrphanAccessRoles, OrphanAccessRole{Role: role, Organization: org})
		}
	}
}

// roleOrganization is the organization of an access role name; ok is false
// for a name the scheme does not produce.
func roleOrganization(role string) (string, bool) {
	rest, found := strings.CutPrefix(role, tenancyv1alpha1.AccessUserPrefix)
	if !found {
		return "", false
	}
	for _, kind := range []tenancyv1alpha1.AccessRole{tenancyv1alpha1.AccessRead, tenancyv1alpha1.AccessReadWrite} {
		suffix := strings.TrimPrefix(access.RoleName("", kind), tenancyv1alpha1.AccessUserPrefix) // ".read", ".readWrite"
		if org, ok := strings.CutSuffix(rest, suffix); ok && org != "" && !strings.Contains(org, ".") {
			return org, true
		}
	}
	return "", false
}
