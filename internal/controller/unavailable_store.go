package controller

import (
	"context"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// unavailableStore is the store of a site no deployment answers for (its
// MongoBackend is not connected): every call fails with its error, which
// satisfies mongostore.IsUnavailable.
type unavailableStore struct{ err error }

func (s unavailableStore) Database() string {
	return ""
}

func (s unavailableStore) CollectionExists(ctx context.Context, name string) (bool, error) {
	return false, s.err
}

func (s unavailableStore) EnsureCollection(ctx context.Context, name string) (created bool, err error) {
	return false, s.err
}

func (s unavailableStore) DropCollection(ctx context.Context, name string) (dropped bool, err error) {
	return false, s.err
}

func (s unavailableStore) GetAdmin(ctx context.Context, organization string) (*mongostore.Admin, error) {
	return nil, s.err
}

func (s unavailableStore) CheckEmailFree(ctx context.Context, email, organization string) error {
	return s.err
}

func (s unavailableStore) CreateAdmin(ctx context.Context, a mongostore.Admin) error {
	return s.err
}

func (s unavailableStore) UpdateAdmin(ctx context.Context, a mongostore.Admin) error {
	return s.err
}

func (s unavailableStore) DeleteAdmin(ctx context.Context, organization string) (bool, error) {
	return false, s.err
}

func (s unavailableStore) RevokeOrganizationSessions(ctx context.Context, organization string) error {
	return s.err
}

func (s unavailableStore) RehomeAdmin(ctx context.Context, from, to string) (bool, error) {
	return false, s.err
}

func (s unavailableStore) EnsureLocation(ctx context.Context, l mongostore.Location) (created bool, err error) {
	return false, s.err
}

func (s unavailableStore) CreateLocation(ctx context.Context, l mongostore.Location) (created bool, err error) {
	return false, s.err
}

func (s unavailableStore) CountTenant(ctx context.Context, l mongostore.Location) (int64, error) {
	return 0, s.err
}

func (s unavailableStore) CopyTenant(ctx context.Context, src, dst mongostore.Location, batch int, afterBatch func(read int64) error) error {
	return s.err
}

func (s unavailableStore) RelabelTenant(ctx context.Context, src, dst mongostore.Location) (int64, error) {
	return 0, s.err
}

func (s unavailableStore) RemoveTenant(ctx context.Context, l mongostore.Location) (int64, error) {
	return 0, s.err
}

func (s unavailableStore) RenameCollection(ctx context.Context, from, to string) error {
	return s.err
}

func (s unavailableStore) Observe(ctx context.Context, sharedCollection string) (*mongostore.Observation, error) {
	return nil, s.err
}

func (s unavailableStore) RepairIndexes(ctx context.Context, obs *mongostore.Observation, sharedCollection string) ([]mongostore.Index, error) {
	return nil, s.err
}

func (s unavailableStore) GetLedgerEntry(ctx context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error) {
	return nil, s.err
}

func (s unavailableStore) ClaimLocation(ctx context.Context, e mongostore.LedgerEntry) error {
	return s.err
}

func (s unavailableStore) TransferLocation(ctx context.Context, l mongostore.Location, fromUID, cluster, name, uid string, now time.Time) error {
	return s.err
}

func (s unavailableStore) RetainLocation(ctx context.Context, l mongostore.Location, uid, cluster string, now time.Time) error {
	return s.err
}

func (s unavailableStore) ReleaseLocation(ctx context.Context, l mongostore.Location, cluster string) error {
	return s.err
}

var _ TenantStore = unavailableStore{}

func (s unavailableStore) ScanTenant(context.Context, mongostore.Location, mongostore.Location, int, func([]any) error) error {
	return s.err
}

func (s unavailableStore) InsertTenantDocuments(context.Context, mongostore.Location, []any) error {
	return s.err
}
