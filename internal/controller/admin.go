package controller

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/password"
)

// reconcileAdmin makes the admin record match the spec and the credentials.
// It writes nothing when the record already carries the spec's email and the
// credentials' fingerprint (a plain resync), and reads nothing that the
// observation already shows (the record in place, or missing; the email
// free). When the credential source changed, the password is hashed again
// only if it no longer verifies against the stored hash, and then
// credentialsVersion increases so that earlier tokens are refused. An email
// held by another organization stalls the Organization with AdminEmailInUse
// and changes nothing.
func (r *OrganizationReconciler) reconcileAdmin(ctx context.Context, t *tenant) error {
	org := t.org
	email := mongostore.NormalizeEmail(org.Spec.Admin.Email)
	if r.observed.adminMatches(org.Name, email, t.creds.fingerprint) {
		return nil
	}
	if !t.creds.known() {
		// The credentials step trusted an observation that has changed
		// since (a new bulk observation): read the Secret's data now.
		if err := r.readCredentials(ctx, t); err != nil {
			return err
		}
	}
	existing, err := r.currentAdmin(ctx, org.Name)
	if err != nil {
		return classifyMongo(err)
	}
	if existing != nil && existing.Email == email && existing.CredentialsFingerprint == t.creds.fingerprint {
		return nil
	}
	// Check before hashing: a conflicted email costs no argon2 work.
	if !r.observed.emailFree(email, org.Name) {
		if err := r.Store.CheckEmailFree(ctx, email, org.Name); err != nil {
			return classifyAdminError(err, org.Spec.Admin.Email)
		}
	}
	next, event, err := r.nextAdmin(ctx, existing, org.Name, email, t.creds)
	if err != nil {
		return err
	}
	if err := r.writeAdmin(ctx, t, existing, next); err != nil {
		return err
	}
	switch {
	case event == stepAdminCreated && t.wasReady:
		r.event(org, corev1.EventTypeWarning, EventAdminRecreated, actionCreate,
			"Admin record was missing and has been recreated from the credentials Secret; earlier sessions end")
	case event == stepAdminCreated:
		t.provisioned = append(t.provisioned, "created the admin account")
	case event != "":
		r.event(org, corev1.EventTypeNormal, event, actionUpdate, adminEventNotes[event])
	}
	return nil
}

// writeAdmin creates or rewrites the admin record. When the write ends
// earlier tokens (a new credentialsVersion, or a record recreated for an
// organization that had one) it ends the organization's REST API sessions
// before and after it: authentication reads only the session, so none may
// outlive the credentials it was opened with. The second pass catches a
// login that read the old record while the write was under way (a login
// re-checks the record after opening its session). A brand-new
// organization (no verdict yet) has no session: nothing to end.
func (r *OrganizationReconciler) writeAdmin(ctx context.Context, t *tenant, existing *mongostore.Admin, next mongostore.Admin) error {
	write := r.Store.UpdateAdmin
	if existing == nil {
		write = r.Store.CreateAdmin
	}
	endsSessions := (existing == nil && (t.wasReady || t.org.Status.ObservedGeneration > 0)) ||
		(existing != nil && existing.CredentialsVersion != next.CredentialsVersion)
	if endsSessions {
		if err := r.Store.RevokeOrganizationSessions(ctx, t.org.Name); err != nil {
			return classifyMongo(err)
		}
	}
	if err := write(ctx, next); err != nil {
		return classifyAdminError(err, t.org.Spec.Admin.Email)
	}
	if endsSessions {
		return classifyMongo(r.Store.RevokeOrganizationSessions(ctx, t.org.Name))
	}
	return nil
}

// currentAdmin reads the organization's admin record, unless the
// observation already shows it has none.
func (r *OrganizationReconciler) currentAdmin(ctx context.Context, organization string) (*mongostore.Admin, error) {
	if _, present, known := r.observed.admin(organization); known && !present {
		return nil, nil
	}
	return r.Store.GetAdmin(ctx, organization)
}

var adminEventNotes = map[string]string{
	EventAdminPasswordChanged: "The admin password changed: credentialsVersion increased, earlier tokens are refused",
}

// classifyAdminError stalls on an email held by another organization and
// classifies connectivity failures.
func classifyAdminError(err error, email string) error {
	if errors.Is(err, mongostore.ErrEmailInUse) {
		return stalled(tenancyv1alpha1.ReasonAdminEmailInUse,
			"admin email %s is already used by another organization; choose another spec.admin.email", email)
	}
	return classifyMongo(err)
}

// nextAdmin computes the record to write and the event it deserves ("" for
// none). The stored hash is reused when the password did not change.
func (r *OrganizationReconciler) nextAdmin(ctx context.Context, existing *mongostore.Admin, organization, email string,
	c credentials) (mongostore.Admin, string, error) {
	if existing == nil {
		hash, err := r.hash(ctx, c)
		return mongostore.Admin{
			ID: uuid.NewString(), Organization: organization, Email: email, PasswordHash: hash, CredentialsVersion: 1, CredentialsFingerprint: c.fingerprint,
		}, stepAdminCreated, err
	}
	next := *existing
	next.Email, next.CredentialsFingerprint = email, c.fingerprint
	next.UpdatedAt = time.Time{} // the store stamps the write
	if existing.CredentialsFingerprint == c.fingerprint {
		return next, "", nil
	}
	same, err := r.unchanged(ctx, c, existing.PasswordHash)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return next, "", err
	}
	if same {
		return next, "", nil
	}
	hash, err := r.hash(ctx, c)
	next.PasswordHash, next.CredentialsVersion = hash, existing.CredentialsVersion+1
	return next, EventAdminPasswordChanged, err
}

// hash is the credentials' hash: the one the Secret gives, else a password
// the operator generated (190 random bits) hashed with the fast hash, any
// other with argon2id under a hashing slot.
func (r *OrganizationReconciler) hash(ctx context.Context, c credentials) (string, error) {
	if c.hash != "" {
		return c.hash, nil
	}
	if c.generated {
		return password.HashGenerated(c.password)
	}
	release, err := r.HashSlots.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return password.Hash(c.password, r.HashParams)
}

// unchanged reports whether the credentials are still what the stored hash
// says: the same given hash, or a password that verifies against it.
func (r *OrganizationReconciler) unchanged(ctx context.Context, c credentials, stored string) (bool, error) {
	if c.hash != "" {
		return c.hash == stored, nil
	}
	return r.verify(ctx, c.password, stored)
}

// verify checks a password against a stored hash, under a hashing slot
// when that costs an argon2id computation.
func (r *OrganizationReconciler) verify(ctx context.Context, pw, hash string) (bool, error) {
	if password.Costly(hash) {
		release, err := r.HashSlots.Acquire(ctx)
		if err != nil {
			return false, err
		}
		defer release()
	}
	return password.Verify(pw, hash)
}
