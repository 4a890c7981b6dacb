package controller

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func newOrg(generation, observed int64) *tenancyv1alpha1.Organization {
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "acme", Generation: generation}}
	org.Status.ObservedGeneration = observed
	return org
}

var (
	errStalled            = stalled(tenancyv1alpha1.ReasonAdminEmailInUse, "email taken by org other")
	errUnavailableForTest = errors.Join(mongostore.ErrUnavailable, errors.New("server selection timeout"))
	errWaiting            = classifyMongo(errUnavailableForTest)
	errOther              = errors.New("apiserver said no")
)

type wantCond struct {
	present bool
	status  metav1.ConditionStatus
	reason  string
}

func checkCond(t *testing.T, org *tenancyv1alpha1.Organization, typ string, want wantCond) {
	t.Helper()
	c := meta.FindStatusCondition(org.Status.Conditions, typ)
	if !want.present {
		if c != nil {
			t.Fatalf("%s condition present: %+v", typ, *c)
		}
		return
	}
	if c == nil {
		t.Fatalf("%s condition missing", typ)
	}
	if c.Status != want.status || c.Reason != want.reason {
		t.Fatalf("%s = %s/%s; want %s/%s", typ, c.Status, c.Reason, want.status, want.reason)
	}
	if c.ObservedGeneration != org.Generation {
		t.Fatalf("%s observedGeneration = %d; want %d", typ, c.ObservedGeneration, org.Generation)
	}
}

func TestSetReadyCondition(t *testing.T) {
	tests := []struct {
		name        string
		o           outcome
		want        wantCond
		wantMessage string
	}{
		{"success", outcome{readyMessage: "all good"}, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonSucceeded}, "all good"},
		{"stalled", outcome{err: errStalled}, wantCond{true, metav1.ConditionFalse, tenancyv1alpha1.ReasonAdminEmailInUse}, "email taken by org other"},
		{"mongo unavailable", outcome{err: errWaiting}, wantCond{true, metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable}, ""},
		{"transient", outcome{err: errOther}, wantCond{true, metav1.ConditionFalse, tenancyv1alpha1.ReasonReconcileFailed}, "apiserver said no"},
		{"deleting, blocked", outcome{err: errWaiting, deleting: true}, wantCond{true, metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable}, ""},
		{"deleting, done", outcome{deleting: true}, wantCond{true, metav1.ConditionFalse, tenancyv1alpha1.ReasonDeleting}, "The organization is being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(3, 2)
			setReadyCondition(org, tt.o)
			checkCond(t, org, tenancyv1alpha1.ConditionReady, tt.want)
			c := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
			if tt.wantMessage != "" && c.Message != tt.wantMessage {
				t.Fatalf("message = %q; want %q", c.Message, tt.wantMessage)
			}
			if tt.o.deleting && tt.o.err != nil && c.Message[:len("Deletion blocked")] != "Deletion blocked" {
				t.Fatalf("message = %q; want it to say deletion is blocked", c.Message)
			}
		})
	}
}

func TestSetReconcilingCondition(t *testing.T) {
	tests := []struct {
		name string
		o    outcome
		want wantCond
	}{
		{"success removes it", outcome{}, wantCond{}},
		{"stalled removes it", outcome{err: errStalled}, wantCond{}},
		{"waiting for mongo", outcome{err: errWaiting}, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonMongoUnavailable}},
		{"transient error", outcome{err: errOther}, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonProgressing}},
		{"deleting", outcome{err: errWaiting, deleting: true}, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonDeleting}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(1, 0)
			setCondition(org, tenancyv1alpha1.ConditionReconciling, metav1.ConditionTrue, tenancyv1alpha1.ReasonProgressing, "before")
			setReconcilingCondition(org, tt.o)
			checkCond(t, org, tenancyv1alpha1.ConditionReconciling, tt.want)
		})
	}
}

func TestSetStalledCondition(t *testing.T) {
	tests := []struct {
		name string
		o    outcome
		want wantCond
	}{
		{"stalling error sets it", outcome{err: errStalled}, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonAdminEmailInUse}},
		{"success clears it", outcome{}, wantCond{}},
		{"waiting clears it", outcome{err: errWaiting}, wantCond{}},
		{"transient clears it", outcome{err: errOther}, wantCond{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(1, 0)
			setCondition(org, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonRenameConflict, "before")
			setStalledCondition(org, tt.o)
			checkCond(t, org, tenancyv1alpha1.ConditionStalled, tt.want)
		})
	}
}

func TestSetObservedGeneration(t *testing.T) {
	tests := []struct {
		name string
		o    outcome
		want int64
	}{
		{"success records the generation", outcome{}, 5},
		{"stalled records the generation (final verdict)", outcome{err: errStalled}, 5},
		{"waiting keeps the old one", outcome{err: errWaiting}, 4},
		{"transient keeps the old one", outcome{err: errOther}, 4},
		{"deleting keeps the old one", outcome{deleting: true}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(5, 4)
			setObservedGeneration(org, tt.o)
			if org.Status.ObservedGeneration != tt.want {
				t.Fatalf("observedGeneration = %d; want %d", org.Status.ObservedGeneration, tt.want)
			}
		})
	}
}

func TestSetPausedCondition(t *testing.T) {
	tests := []struct {
		name string
		o    outcome
		want wantCond
	}{
		{"paused sets it", outcome{paused: true}, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonReconcileDisabled}},
		{"success clears it", outcome{}, wantCond{}},
		{"stalled clears it", outcome{err: errStalled}, wantCond{}},
		{"deleting clears it", outcome{deleting: true}, wantCond{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(1, 0)
			setCondition(org, tenancyv1alpha1.ConditionPaused, metav1.ConditionTrue, tenancyv1alpha1.ReasonReconcileDisabled, "before")
			setPausedCondition(org, tt.o)
			checkCond(t, org, tenancyv1alpha1.ConditionPaused, tt.want)
		})
	}
}

// A paused reconcile says so and leaves everything else as the last
// reconcile wrote it: Ready stays Ready, observedGeneration stays behind a
// spec change made while paused.
func TestApplyStatusPausedKeepsTheRest(t *testing.T) {
	org := newOrg(1, 0)
	applyStatus(org, outcome{readyMessage: "ok"})
	org.Generation = 2
	before := org.Status.DeepCopy()
	applyStatus(org, outcome{paused: true})
	checkCond(t, org, tenancyv1alpha1.ConditionPaused, wantCond{true, metav1.ConditionTrue, tenancyv1alpha1.ReasonReconcileDisabled})
	if org.Status.ObservedGeneration != 1 {
		t.Fatalf("observedGeneration = %d; want 1 (the spec change is not applied)", org.Status.ObservedGeneration)
	}
	ready := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
	if want := meta.FindStatusCondition(before.Conditions, tenancyv1alpha1.ConditionReady); *ready != *want {
		t.Fatalf("Ready changed while paused: %+v, was %+v", *ready, *want)
	}
	applyStatus(org, outcome{readyMessage: "ok"})
	if meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionPaused) != nil {
		t.Fatal("Paused stayed after the pause ended")
	}
}

func TestApplyStatusKeepsTransitionTimeWhenUnchanged(t *testing.T) {
	org := newOrg(1, 0)
	applyStatus(org, outcome{readyMessage: "ok"})
	first := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady).LastTransitionTime
	before := org.Status.DeepCopy()
	applyStatus(org, outcome{readyMessage: "ok"})
	if got := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady).LastTransitionTime; !got.Equal(&first) {
		t.Fatal("lastTransitionTime changed although the condition did not")
	}
	if len(before.Conditions) != len(org.Status.Conditions) {
		t.Fatal("a second identical reconcile changed the conditions")
	}
}

func TestMigrationMessageNamesBackends(t *testing.T) {
	tests := []struct {
		name string
		m    *tenancyv1alpha1.MigrationStatus
		want string
	}{
		{"within one deployment", &tenancyv1alpha1.MigrationStatus{Phase: tenancyv1alpha1.MigrationCopying,
			Source: tenancyv1alpha1.DocumentLocation{Collection: "shared_tenants", Organization: "a"},
			Target: tenancyv1alpha1.DocumentLocation{Collection: "org_a"}, Copied: 1, Total: 2},
			`Copying documents from shared_tenants{organization:"a"} to org_a: 1 of 2 copied`},
		{"between backends", &tenancyv1alpha1.MigrationStatus{Phase: tenancyv1alpha1.MigrationSwitched,
			Source: tenancyv1alpha1.DocumentLocation{Collection: "org_a", Backend: "default"},
			Target: tenancyv1alpha1.DocumentLocation{Collection: "org_a", Backend: "eu"}, Copied: 2},
			"Documents moved to org_a on backend eu (2); removing the copy at org_a on backend default"},
	}
	for _, tt := range tests {
		if got := migrationMessage(tt.m); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
}
