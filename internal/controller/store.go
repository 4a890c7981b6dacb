package controller

import (
	"context"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// TenantStore is everything the controller needs from MongoDB. Every method
// is idempotent and runs under its own timeout; connectivity failures satisfy
// mongostore.IsUnavailable. *mongostore.Store implements it.
type TenantStore interface {
	// Database is the name of the database holding tenant collections.
	Database() string
	// CollectionExists observes a collection (read only).
	CollectionExists(ctx context.Context, name string) (bool, error)
	// EnsureCollection creates the collection when missing and reports whether it did.
	EnsureCollection(ctx context.Context, name string) (created bool, err error)
	// DropCollection drops the collection when present and reports whether it did.
	DropCollection(ctx context.Context, name string) (dropped bool, err error)
	// GetAdmin observes an organization's admin record; nil when there is none.
	GetAdmin(ctx context.Context, organization string) (*mongostore.Admin, error)
	// CheckEmailFree returns mongostore.ErrEmailInUse when another
	// organization's admin holds the email (read only).
	CheckEmailFree(ctx context.Context, email, organization string) error
	// CreateAdmin inserts an organization's admin record; it returns
	// mongostore.ErrEmailInUse or mongostore.ErrAdminExists, writing nothing,
	// when another organization holds the email or the record exists.
	CreateAdmin(ctx context.Context, a mongostore.Admin) error
	// UpdateAdmin rewrites the existing record a.ID; it returns
	// mongostore.ErrEmailInUse, writing nothing, when another organization
	// holds the email, mongostore.ErrAdminNotFound when the record is gone.
	UpdateAdmin(ctx context.Context, a mongostore.Admin) error
	// DeleteAdmin removes an organization's admin record when present.
	DeleteAdmin(ctx context.Context, organization string) (bool, error)
	// RevokeOrganizationSessions ends every REST API session of an organization.
	RevokeOrganizationSessions(ctx context.Context, organization string) error
	// RehomeAdmin moves an admin record to another organization (rename),
	// increasing its credentialsVersion.
	RehomeAdmin(ctx context.Context, from, to string) (bool, error)

	// EnsureLocation creates a tenant location's collection (and index) when missing.
	EnsureLocation(ctx context.Context, l mongostore.Location) (created bool, err error)
	// CreateLocation is EnsureLocation for a collection known to be missing
	// (one command fewer).
	CreateLocation(ctx context.Context, l mongostore.Location) (created bool, err error)
	// CountTenant counts a tenant's documents at a location.
	CountTenant(ctx context.Context, l mongostore.Location) (int64, error)
	// CopyTenant copies a tenant's documents idempotently, in batches.
	CopyTenant(ctx context.Context, src, dst mongostore.Location, batch int, afterBatch func(read int64) error) error
	// ScanTenant reads a tenant's documents in _id order, in batches
	// tagged for dst (the reading half of a copy to another deployment).
	ScanTenant(ctx context.Context, src, dst mongostore.Location, batch int, each func(docs []any) error) error
	// InsertTenantDocuments inserts a ScanTenant batch at dst, idempotently.
	InsertTenantDocuments(ctx context.Context, dst mongostore.Location, docs []any) error
	// RelabelTenant gives a tenant's documents in a shared collection to
	// another organization of the same collection, idempotently.
	RelabelTenant(ctx context.Context, src, dst mongostore.Location) (int64, error)
	// RemoveTenant removes a tenant's documents at a location.
	RemoveTenant(ctx context.Context, l mongostore.Location) (int64, error)
	// RenameCollection renames a collection within the database.
	RenameCollection(ctx context.Context, from, to string) error

	// Observe reads every collection name, admin record summary and ledger
	// entry, and the shared collection's per-tenant counts, at once, in a
	// constant number of commands (the resync's bulk observation).
	Observe(ctx context.Context, sharedCollection string) (*mongostore.Observation, error)
	// RepairIndexes creates the required indexes an observation shows
	// missing and returns them.
	RepairIndexes(ctx context.Context, obs *mongostore.Observation, sharedCollection string) ([]mongostore.Index, error)

	// GetLedgerEntry reads the ownership entry of a location (nil: none).
	GetLedgerEntry(ctx context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error)
	// ClaimLocation records a new owner; mongostore.ErrLocationClaimed when
	// the location has one.
	ClaimLocation(ctx context.Context, e mongostore.LedgerEntry) error
	// TransferLocation gives a location owned by fromUID to another
	// Organization (restore, adoption); mongostore.ErrLedgerChanged when the
	// entry changed meanwhile.
	TransferLocation(ctx context.Context, l mongostore.Location, fromUID, cluster, name, uid string, now time.Time) error
	// RetainLocation marks a location's data retained by its deleted owner.
	RetainLocation(ctx context.Context, l mongostore.Location, uid, cluster string, now time.Time) error
	// ReleaseLocation forgets a location whose data was dropped or moved.
	ReleaseLocation(ctx context.Context, l mongostore.Location, cluster string) error
}

var _ TenantStore = (*mongostore.Store)(nil)
