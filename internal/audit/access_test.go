package audit

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

func TestAnalyzeAccess(t *testing.T) {
	accesses := []tenancyv1alpha1.OrganizationAccess{{ObjectMeta: metav1.ObjectMeta{UID: types.UID("u-1")}}}
	orgs := []tenancyv1alpha1.Organization{{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}}
	tests := []struct {
		name        string
		users       []string
		roles       []string
		wantUsers   []OrphanAccessUser
		wantRoles   []OrphanAccessRole
		needsAction bool
	}{
		{name: "everything owned", users: []string{"oa.acme.u-1.a", "oa.acme.u-1.b", "oa.old-name.u-1.a"},
			roles: []string{"oa.acme.read", "oa.acme.readWrite"}},
		{name: "a user of a deleted access", users: []string{"oa.acme.u-1.a", "oa.acme.u-2.b"},
			wantUsers: []OrphanAccessUser{{User: "oa.acme.u-2.b", Organization: "acme"}}, needsAction: true},
		{name: "a name of the prefix the scheme does not produce", users: []string{"oa.junk"},
			wantUsers: []OrphanAccessUser{{User: "oa.junk"}}, needsAction: true},
		{name: "roles of a deleted organization, sorted", roles: []string{"oa.gone.readWrite", "oa.acme.read", "oa.gone.read"},
			wantRoles:   []OrphanAccessRole{{Role: "oa.gone.read", Organization: "gone"}, {Role: "oa.gone.readWrite", Organization: "gone"}},
			needsAction: true},
		{name: "a role the scheme does not produce", roles: []string{"oa.acme.admin"},
			wantRoles: []OrphanAccessRole{{Role: "oa.acme.admin"}}, needsAction: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{}
			r.AnalyzeAccess(accesses, orgs, tt.users, tt.roles)
			if !reflect.DeepEqual(r.OrphanAccessUsers, tt.wantUsers) || !reflect.DeepEqual(r.OrphanAccessRoles, tt.wantRoles) {
				t.Fatalf("users %+v roles %+v; want %+v %+v", r.OrphanAccessUsers, r.OrphanAccessRoles, tt.wantUsers, tt.wantRoles)
			}
			if r.NeedsAttention() != tt.needsAction {
				t.Fatalf("NeedsAttention = %v", r.NeedsAttention())
			}
		})
	}
}
