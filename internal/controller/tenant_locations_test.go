package controller

import (
	"slices"
	"testing"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestTenantLocations(t *testing.T) {
	migration := func(src, dst mongostore.Location) func(*tenancyv1alpha1.Organization) {
		return func(o *tenancyv1alpha1.Organization) {
			o.Status.Migration = &tenancyv1alpha1.MigrationStatus{Source: toDocLocation(src), Target: toDocLocation(dst)}
		}
	}
	renamed := func(o *tenancyv1alpha1.Organization) { o.Spec.RenamedFrom = "old" }
	shared := func(o *tenancyv1alpha1.Organization) { o.Spec.Tenancy = tenancyv1alpha1.TenancyShared }
	tests := []struct {
		name string
		org  *tenancyv1alpha1.Organization
		want []mongostore.Location
	}{
		{"new organization: its target", unitOrg("a"), []mongostore.Location{dedicated("a")}},
		{"settled dedicated", unitOrg("a", atLocation(dedicated("a"))), []mongostore.Location{dedicated("a")}},
		{"settled shared", unitOrg("a", shared, atLocation(sharedLoc("a"))), []mongostore.Location{sharedLoc("a")}},
		{"spec switched, move not started: current and target",
			unitOrg("a", shared, atLocation(dedicated("a"))), []mongostore.Location{dedicated("a"), sharedLoc("a")}},
		{"move under way: both ends",
			unitOrg("a", shared, atLocation(dedicated("a")), migration(dedicated("a"), sharedLoc("a"))),
			[]mongostore.Location{dedicated("a"), sharedLoc("a")}},
		{"move reversed in flight: current, both ends and the new target",
			unitOrg("a", atLocation(sharedLoc("a")), migration(dedicated("a"), sharedLoc("a"))),
			[]mongostore.Location{sharedLoc("a"), dedicated("a")}},
		{"rename never started: nothing of ours", unitOrg("a", renamed), nil},
		{"rename under way: the target only, never the old organization's data",
			unitOrg("a", renamed, migration(dedicated("old"), dedicated("a"))), []mongostore.Location{dedicated("a")}},
		{"rename done: like any organization",
			unitOrg("a", renamed, atLocation(dedicated("a")), func(o *tenancyv1alpha1.Organization) { o.Status.RenamedFrom = "old" }),
			[]mongostore.Location{dedicated("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newMemStore()
			r := newUnitReconciler(t, store, 0)
			var got []mongostore.Location
			for _, at := range r.tenantLocations(tt.org) {
				if at.site.name != tenancyv1alpha1.DefaultBackend {
					t.Fatalf("%s on site %s; want the default one", at.loc, at.site.name)
				}
				got = append(got, at.loc)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("tenantLocations = %v; want %v", got, tt.want)
			}
		})
	}
}
