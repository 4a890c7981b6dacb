package access

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
	"github.com/org-operator/org-operator/internal/password"
)

// DefaultRotationGrace is how long the user a rotation replaced keeps
// working (--access-rotation-grace).
const DefaultRotationGrace = 10 * time.Minute

// rotationDue says whether a new user and password must be published now:
// there is none yet, the rotate annotation has a value not acted on, or the
// schedule's interval has passed since the last rotation.
func rotationDue(a *tenancyv1alpha1.OrganizationAccess, rec *record, now time.Time) bool {
	if rec == nil || rec.Username == "" {
		return true
	}
	if v, ok := a.Annotations[tenancyv1alpha1.AnnotationRotate]; ok && v != a.Status.RotateRequest {
		return true
	}
	if a.Spec.Rotation != nil && a.Status.RotatedAt != nil {
		return !now.Before(a.Status.RotatedAt.Add(a.Spec.Rotation.Every.Duration))
	}
	return false
}

// nextRotation is when the schedule rotates next (zero without one).
func nextRotation(a *tenancyv1alpha1.OrganizationAccess) time.Time {
	if a.Spec.Rotation == nil || a.Status.RotatedAt == nil {
		return time.Time{}
	}
	return a.Status.RotatedAt.Add(a.Spec.Rotation.Every.Duration)
}

// standby is the user a rotation publishes: the other slot of the
// published one (the organization's name may have changed by a rename),
// slot a for the first.
func standby(org string, a *tenancyv1alpha1.OrganizationAccess, rec *record) string {
	slot := SlotA
	if rec != nil && rec.Username != "" {
		if _, _, s, ok := ParseUserName(rec.Username); ok && s == SlotA {
			slot = SlotB
		}
	}
	return UserName(org, string(a.UID), slot)
}

// reconcileCredentials makes the record's published user one MongoDB
// accepts: it finishes a rotation a crash interrupted, rotates when due,
// and notes in status which user the Secret holds and which one retires.
func (r *Reconciler) reconcileCredentials(ctx context.Context, b *binding) error {
	a, now := b.a, r.now()
	rec, err := r.readRecord(ctx, a)
	if err != nil {
		return err
	}
	if rec != nil && rec.PendingUsername == "" && rotationDue(a, rec, now) {
		user, pw, err := r.newPending(b, rec)
		if err != nil {
			return err
		}
		rec.PendingUsername, rec.PendingPassword = user, pw
		if err := r.writeRecord(ctx, a, b.org.Name, rec); err != nil {
			return err
		}
	}
	if rec == nil {
		user, pw, err := r.newPending(b, nil)
		if err != nil {
			return err
		}
		rec = &record{PendingUsername: user, PendingPassword: pw}
		if err := r.writeRecord(ctx, a, b.org.Name, rec); err != nil {
			return err
		}
	}
	if rec.PendingUsername != "" {
		if err := r.publish(ctx, b, rec); err != nil {
			return err
		}
	}
	r.noteRotation(a, rec, now)
	b.record = rec
	if v, ok := a.Annotations[tenancyv1alpha1.AnnotationRotate]; ok {
		a.Status.RotateRequest = v
	}
	if next := nextRotation(a); !next.IsZero() && next.Before(b.next) {
		b.next = next
	}
	return nil
}

// newPending picks the standby user and a new password for it.
func (r *Reconciler) newPending(b *binding, rec *record) (string, string, error) {
	pw, err := password.Generate()
	if err != nil {
		return "", "", err
	}
	return standby(b.org.Name, b.a, rec), pw, nil
}

// publish sets the pending user's password and roles in MongoDB, then
// makes it the published one in the record.
func (r *Reconciler) publish(ctx context.Context, b *binding, rec *record) error {
	if err := r.cfg.Server.Store.SetUser(ctx, rec.PendingUsername, rec.PendingPassword, b.roles); err != nil {
		return userError(err)
	}
	if rec.Username != "" && rec.Username != rec.PendingUsername {
		// A rotation during a grace period reuses the retiring user's
		// slot: that user is the published one now, the replaced one retires.
		rec.PreviousUsername, rec.RetiresAt = rec.Username, r.now().Add(r.cfg.RotationGrace)
	}
	rec.Username, rec.Password, rec.Roles = rec.PendingUsername, rec.PendingPassword, b.roles
	rec.PendingUsername, rec.PendingPassword = "", ""
	if err := r.writeRecord(ctx, b.a, b.org.Name, rec); err != nil {
		return err
	}
	r.metrics.rotated(b.a)
	r.event(b.a, corev1.EventTypeNormal, EventCredentialsRotated, "The Secret now holds user %s", rec.Username)
	return nil
}

// noteRotation brings status in line with the record, which says which
// user the Secret holds and which one retires when (status can lag after a
// crash or a lost write; the record does not).
func (r *Reconciler) noteRotation(a *tenancyv1alpha1.OrganizationAccess, rec *record, now time.Time) {
	if a.Status.Username != rec.Username {
		rotated := metav1.NewTime(now)
		a.Status.Username, a.Status.RotatedAt = rec.Username, &rotated
	}
	a.Status.PreviousUsername, a.Status.PreviousRetiresAt = rec.PreviousUsername, nil
	if rec.PreviousUsername != "" {
		retires := metav1.NewTime(rec.RetiresAt)
		a.Status.PreviousRetiresAt = &retires
	}
}

// reconcileGrants gives the published (and the retiring) user the roles
// the access's role kind and organization call for, when they changed
// (spec.role edited, the organization renamed).
func (r *Reconciler) reconcileGrants(ctx context.Context, b *binding) error {
	rec := b.record
	if sameRoles(rec.Roles, b.roles) {
		return nil
	}
	for _, u := range []string{rec.Username, rec.PreviousUsername} {
		if u == "" {
			continue
		}
		if err := r.cfg.Server.Store.GrantRoles(ctx, u, b.roles); err != nil {
			return userError(err)
		}
	}
	rec.Roles = b.roles
	return r.writeRecord(ctx, b.a, b.org.Name, rec)
}

// retirePrevious drops the user a rotation replaced once its grace period
// is over (the record names it), unless the Secret holds it again.
func (r *Reconciler) retirePrevious(ctx context.Context, b *binding) error {
	a, rec := b.a, b.record
	prev := rec.PreviousUsername
	if prev == "" {
		return nil
	}
	if prev != rec.Username {
		if r.now().Before(rec.RetiresAt) {
			if rec.RetiresAt.Before(b.next) {
				b.next = rec.RetiresAt
			}
			return nil
		}
		if _, err := r.cfg.Server.Store.DropUser(ctx, prev); err != nil {
			return conditions.ClassifyMongo(err)
		}
		r.event(a, corev1.EventTypeNormal, EventUserRetired, "Dropped user %s, replaced by %s", prev, rec.Username)
	}
	// A crash before this write drops the user again next time (a no-op).
	rec.PreviousUsername, rec.RetiresAt = "", time.Time{}
	if err := r.writeRecord(ctx, a, b.org.Name, rec); err != nil {
		return err
	}
	a.Status.PreviousUsername, a.Status.PreviousRetiresAt = "", nil
	return nil
}
