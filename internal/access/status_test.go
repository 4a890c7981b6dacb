package access

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
)

func TestApplyStatus(t *testing.T) {
	type cond struct {
		status metav1.ConditionStatus
		reason string
	}
	absent := cond{}
	for _, tc := range []struct {
		name                      string
		o                         outcome
		ready, reconciling, stall cond
		observed                  bool
	}{
		{"Ready", outcome{readyMessage: "ok"}, cond{"True", tenancyv1alpha1.ReasonSucceeded}, absent, absent, true},
		{"Stalled: not allowed", outcome{err: conditions.Stalled(tenancyv1alpha1.ReasonAccessNotAllowed, "no")},
			cond{"False", tenancyv1alpha1.ReasonAccessNotAllowed}, absent, cond{"True", tenancyv1alpha1.ReasonAccessNotAllowed}, true},
		{"waiting for the organization", outcome{err: &conditions.WaitingError{Reason: tenancyv1alpha1.ReasonOrganizationNotReady, Err: errors.New("x")}},
			cond{"False", tenancyv1alpha1.ReasonOrganizationNotReady}, cond{"True", tenancyv1alpha1.ReasonOrganizationNotReady}, absent, false},
		{"transient", outcome{err: errors.New("boom")},
			cond{"False", tenancyv1alpha1.ReasonReconcileFailed}, cond{"True", tenancyv1alpha1.ReasonProgressing}, absent, false},
		{"deleting", outcome{deleting: true, err: errors.New("MongoDB down")},
			cond{"False", tenancyv1alpha1.ReasonReconcileFailed}, cond{"True", tenancyv1alpha1.ReasonDeleting}, absent, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &tenancyv1alpha1.OrganizationAccess{}
			a.Generation = 3
			applyStatus(a, tc.o)
			for typ, want := range map[string]cond{tenancyv1alpha1.ConditionReady: tc.ready,
				tenancyv1alpha1.ConditionReconciling: tc.reconciling, tenancyv1alpha1.ConditionStalled: tc.stall} {
				c := meta.FindStatusCondition(a.Status.Conditions, typ)
				if want == absent {
					if c != nil {
						t.Errorf("%s present: %+v", typ, c)
					}
					continue
				}
				if c == nil || c.Status != want.status || c.Reason != want.reason || c.ObservedGeneration != 3 {
					t.Errorf("%s = %+v, want %v", typ, c, want)
				}
			}
			if got := a.Status.ObservedGeneration == 3; got != tc.observed {
				t.Errorf("observedGeneration recorded: %v, want %v", got, tc.observed)
			}
		})
	}
}
