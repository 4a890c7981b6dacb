package access

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

func TestRotationDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { x := metav1.NewTime(now.Add(-d)); return &x }
	published := &record{Username: "oa.acme.u.a", Password: "p"}
	for _, tc := range []struct {
		name string
		a    func(*tenancyv1alpha1.OrganizationAccess)
		rec  *record
		want bool
	}{
		{"no credentials yet", func(*tenancyv1alpha1.OrganizationAccess) {}, nil, true},
		{"published, no schedule", func(*tenancyv1alpha1.OrganizationAccess) {}, published, false},
		{"the rotate annotation, a new value", func(a *tenancyv1alpha1.OrganizationAccess) {
			a.Annotations = map[string]string{tenancyv1alpha1.AnnotationRotate: "2"}
			a.Status.RotateRequest = "1"
		}, published, true},
		{"the rotate annotation, acted on", func(a *tenancyv1alpha1.OrganizationAccess) {
			a.Annotations = map[string]string{tenancyv1alpha1.AnnotationRotate: "2"}
			a.Status.RotateRequest = "2"
		}, published, false},
		{"schedule not due", func(a *tenancyv1alpha1.OrganizationAccess) {
			a.Spec.Rotation = &tenancyv1alpha1.AccessRotation{Every: metav1.Duration{Duration: 24 * time.Hour}}
			a.Status.RotatedAt = at(23 * time.Hour)
		}, published, false},
		{"schedule due", func(a *tenancyv1alpha1.OrganizationAccess) {
			a.Spec.Rotation = &tenancyv1alpha1.AccessRotation{Every: metav1.Duration{Duration: 24 * time.Hour}}
			a.Status.RotatedAt = at(24 * time.Hour)
		}, published, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &tenancyv1alpha1.OrganizationAccess{}
			tc.a(a)
			if got := rotationDue(a, tc.rec, now); got != tc.want {
				t.Fatalf("rotationDue = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStandbyAlternates(t *testing.T) {
	a := &tenancyv1alpha1.OrganizationAccess{}
	a.UID = "u1"
	first := standby("acme", a, nil)
	second := standby("acme", a, &record{Username: first})
	third := standby("acme", a, &record{Username: second})
	if first != "oa.acme.u1.a" || second != "oa.acme.u1.b" || third != first {
		t.Fatalf("standby users %s, %s, %s", first, second, third)
	}
	// After a rename the next user carries the new organization's name.
	if got := standby("globex", a, &record{Username: "oa.acme.u1.a"}); got != "oa.globex.u1.b" {
		t.Fatalf("after a rename: %s", got)
	}
}

func TestNoteRotation(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := &Reconciler{cfg: Config{RotationGrace: 10 * time.Minute}}
	a := &tenancyv1alpha1.OrganizationAccess{}
	r.noteRotation(a, &record{Username: "oa.acme.u.a"}, now)
	if a.Status.Username != "oa.acme.u.a" || a.Status.PreviousUsername != "" || a.Status.RotatedAt == nil {
		t.Fatalf("first user: %+v", a.Status)
	}
	// A rotation: status says what the record says retires, and when.
	retires := now.Add(time.Hour + 10*time.Minute)
	r.noteRotation(a, &record{Username: "oa.acme.u.b", PreviousUsername: "oa.acme.u.a", RetiresAt: retires}, now.Add(time.Hour))
	if a.Status.Username != "oa.acme.u.b" || a.Status.PreviousUsername != "oa.acme.u.a" ||
		!a.Status.PreviousRetiresAt.Time.Equal(retires) || !a.Status.RotatedAt.Time.Equal(now.Add(time.Hour)) {
		t.Fatalf("after a rotation: %+v", a.Status)
	}
	before := a.Status.DeepCopy()
	r.noteRotation(a, &record{Username: "oa.acme.u.b", PreviousUsername: "oa.acme.u.a", RetiresAt: retires}, now.Add(2*time.Hour))
	if !a.Status.PreviousRetiresAt.Equal(before.PreviousRetiresAt) || !a.Status.RotatedAt.Equal(before.RotatedAt) {
		t.Fatal("nothing changed, yet status did")
	}
	// Retired: the record names no previous user, nor does status.
	r.noteRotation(a, &record{Username: "oa.acme.u.b"}, now.Add(3*time.Hour))
	if a.Status.PreviousUsername != "" || a.Status.PreviousRetiresAt != nil {
		t.Fatalf("after retirement: %+v", a.Status)
	}
}
