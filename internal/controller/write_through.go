package controller

import (
	"context"
	"errors"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// writeThrough is the controller's view of the store: every call goes to
// MongoDB, and each successful write (and each admin record read) amends
// the observation, so a later reconcile of the same tenant knows what this
// one did without asking again.
type writeThrough struct {
	TenantStore
	observed *observation
	// budget counts retained dedicated collections; ledger writes amend it.
	budget *collectionBudget
}

func (w *writeThrough) GetAdmin(ctx context.Context, organization string) (*mongostore.Admin, error) {
	a, err := w.TenantStore.GetAdmin(ctx, organization)
	switch {
	case err != nil:
	case a != nil:
		w.observed.recordAdmin(organization, summary(*a))
	default:
		w.observed.absentAdmin(organization)
	}
	return a, err
}

func (w *writeThrough) CreateAdmin(ctx context.Context, a mongostore.Admin) error {
	err := w.TenantStore.CreateAdmin(ctx, a)
	switch {
	case err == nil:
		a.Email = mongostore.NormalizeEmail(a.Email)
		w.observed.recordAdmin(a.Organization, summary(a))
	case errors.Is(err, mongostore.ErrAdminExists):
		w.observed.unsureAdmin(a.Organization) // the observation was wrong: read it next time
	}
	return err
}

func (w *writeThrough) UpdateAdmin(ctx context.Context, a mongostore.Admin) error {
	err := w.TenantStore.UpdateAdmin(ctx, a)
	switch {
	case err == nil:
		a.Email = mongostore.NormalizeEmail(a.Email)
		w.observed.recordAdmin(a.Organization, summary(a))
	case errors.Is(err, mongostore.ErrAdminNotFound):
		w.observed.absentAdmin(a.Organization)
	}
	return err
}

func (w *writeThrough) DeleteAdmin(ctx context.Context, organization string) (bool, error) {
	w.observed.unsureAdmin(organization)
	deleted, err := w.TenantStore.DeleteAdmin(ctx, organization)
	if err == nil {
		w.observed.absentAdmin(organization)
	}
	return deleted, err
}

func (w *writeThrough) RehomeAdmin(ctx context.Context, from, to string) (bool, error) {
	w.observed.unsureAdmin(from)
	w.observed.unsureAdmin(to)
	return w.TenantStore.RehomeAdmin(ctx, from, to)
}

func (w *writeThrough) EnsureLocation(ctx context.Context, l mongostore.Location) (bool, error) {
	created, err := w.TenantStore.EnsureLocation(ctx, l)
	if err == nil {
		w.observed.recordCollection(l.Collection)
	}
	return created, err
}

func (w *writeThrough) CreateLocation(ctx context.Context, l mongostore.Location) (bool, error) {
	created, err := w.TenantStore.CreateLocation(ctx, l)
	if err == nil {
		w.observed.recordCollection(l.Collection)
	}
	return created, err
}

func (w *writeThrough) RemoveTenant(ctx context.Context, l mongostore.Location) (int64, error) {
	if !l.Shared() {
		w.observed.forgetCollection(l.Collection)
	}
	return w.TenantStore.RemoveTenant(ctx, l)
}

func (w *writeThrough) DropCollection(ctx context.Context, name string) (bool, error) {
	w.observed.forgetCollection(name)
	return w.TenantStore.DropCollection(ctx, name)
}

func (w *writeThrough) RenameCollection(ctx context.Context, from, to string) error {
	w.observed.forgetCollection(from)
	err := w.TenantStore.RenameCollection(ctx, from, to)
	if err == nil {
		w.observed.recordCollection(to)
	}
	return err
}

func summary(a mongostore.Admin) mongostore.AdminSummary {
	return mongostore.AdminSummary{Email: a.Email, CredentialsFingerprint: a.CredentialsFingerprint}
}

func (w *writeThrough) ClaimLocation(ctx context.Context, e mongostore.LedgerEntry) error {
	err := w.TenantStore.ClaimLocation(ctx, e)
	if err == nil {
		w.observed.recordLedger(e)
		w.markRetained(e.Location(), e.State == mongostore.LedgerRetained)
	} else {
		w.observed.unsureLedger(e.Location())
	}
	return err
}

func (w *writeThrough) TransferLocation(ctx context.Context, l mongostore.Location, fromUID, cluster, name, uid string, now time.Time) error {
	w.observed.unsureLedger(l)
	err := w.TenantStore.TransferLocation(ctx, l, fromUID, cluster, name, uid, now)
	if err == nil {
		w.markRetained(l, false)
	}
	return err
}

func (w *writeThrough) RetainLocation(ctx context.Context, l mongostore.Location, uid, cluster string, now time.Time) error {
	w.observed.unsureLedger(l)
	err := w.TenantStore.RetainLocation(ctx, l, uid, cluster, now)
	if err == nil {
		w.markRetained(l, true)
	}
	return err
}

func (w *writeThrough) ReleaseLocation(ctx context.Context, l mongostore.Location, cluster string) error {
	w.observed.unsureLedger(l)
	err := w.TenantStore.ReleaseLocation(ctx, l, cluster)
	if err == nil {
		w.markRetained(l, false)
	}
	return err
}

// markRetained tells the budget about a dedicated location's retained state.
func (w *writeThrough) markRetained(l mongostore.Location, retained bool) {
	if w.budget != nil && !l.Shared() {
		w.budget.markRetained(l.Collection, retained)
	}
}
