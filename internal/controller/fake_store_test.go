package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// fakeStore is a TenantStore whose every method is a function field, as
// crossplane-runtime's ExternalClientFns: newMemStore fills them with an
// in-memory MongoDB, and a test replaces only the ones it needs (to fail a
// call, or to look at the world at the moment of a call).
type fakeStore struct {
	DatabaseFn         func() string
	CollectionExistsFn func(ctx context.Context, name string) (bool, error)
	EnsureCollectionFn func(ctx context.Context, name string) (bool, error)
	DropCollectionFn   func(ctx context.Context, name string) (bool, error)
	GetAdminFn         func(ctx context.Context, organization string) (*mongostore.Admin, error)
	CheckEmailFreeFn   func(ctx context.Context, email, organization string) error
	CreateAdminFn      func(ctx context.Context, a mongostore.Admin) error
	UpdateAdminFn      func(ctx context.Context, a mongostore.Admin) error
	DeleteAdminFn      func(ctx context.Context, organization string) (bool, error)
	RehomeAdminFn      func(ctx context.Context, from, to string) (bool, error)
	RevokeSessionsFn   func(ctx context.Context, organization string) error
	EnsureLocationFn   func(ctx context.Context, l mongostore.Location) (bool, error)
	CreateLocationFn   func(ctx context.Context, l mongostore.Location) (bool, error)
	CountTenantFn      func(ctx context.Context, l mongostore.Location) (int64, error)
	CopyTenantFn       func(ctx context.Context, src, dst mongostore.Location, batch int, afterBatch func(int64) error) error
	// ScanTenantFn and InsertTenantDocumentsFn, when nil, fail: the unit
	// tests run on one site.
	ScanTenantFn            func(ctx context.Context, src, dst mongostore.Location, batch int, each func([]any) error) error
	InsertTenantDocumentsFn func(ctx context.Context, dst mongostore.Location, docs []any) error
	RemoveTenantFn          func(ctx context.Context, l mongostore.Location) (int64, error)
	RelabelTenantFn         func(ctx context.Context, src, dst mongostore.Location) (int64, error)
	RenameCollectionFn      func(ctx context.Context, from, to string) error
	ObserveFn               func(ctx context.Context, shared string) (*mongostore.Observation, error)
	RepairIndexesFn         func(ctx context.Context, obs *mongostore.Observation, shared string) ([]mongostore.Index, error)
	GetLedgerEntryFn        func(ctx context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error)
	ClaimLocationFn         func(ctx context.Context, e mongostore.LedgerEntry) error
	TransferLocationFn      func(ctx context.Context, l mongostore.Location, fromUID, cluster, name, uid string, now time.Time) error
	RetainLocationFn        func(ctx context.Context, l mongostore.Location, uid, cluster string, now time.Time) error
	ReleaseLocationFn       func(ctx context.Context, l mongostore.Location, cluster string) error
}

var _ TenantStore = (*fakeStore)(nil)

func (f *fakeStore) Database() string { return f.DatabaseFn() }
func (f *fakeStore) CollectionExists(ctx context.Context, name string) (bool, error) {
	return f.CollectionExistsFn(ctx, name)
}
func (f *fakeStore) EnsureCollection(ctx context.Context, name string) (bool, error) {
	return f.EnsureCollectionFn(ctx, name)
}
func (f *fakeStore) DropCollection(ctx context.Context, name string) (bool, error) {
	return f.DropCollectionFn(ctx, name)
}
func (f *fakeStore) RevokeOrganizationSessions(ctx context.Context, organization string) error {
	return f.RevokeSessionsFn(ctx, organization)
}
func (f *fakeStore) GetAdmin(ctx context.Context, organization string) (*mongostore.Admin, error) {
	return f.GetAdminFn(ctx, organization)
}
func (f *fakeStore) CheckEmailFree(ctx context.Context, email, organization string) error {
	return f.CheckEmailFreeFn(ctx, email, organization)
}
func (f *fakeStore) CreateAdmin(ctx context.Context, a mongostore.Admin) error {
	return f.CreateAdminFn(ctx, a)
}
func (f *fakeStore) UpdateAdmin(ctx context.Context, a mongostore.Admin) error {
	return f.UpdateAdminFn(ctx, a)
}
func (f *fakeStore) DeleteAdmin(ctx context.Context, organization string) (bool, error) {
	return f.DeleteAdminFn(ctx, organization)
}
func (f *fakeStore) RehomeAdmin(ctx context.Context, from, to string) (bool, error) {
	return f.RehomeAdminFn(ctx, from, to)
}
func (f *fakeStore) EnsureLocation(ctx context.Context, l mongostore.Location) (bool, error) {
	return f.EnsureLocationFn(ctx, l)
}
func (f *fakeStore) CreateLocation(ctx context.Context, l mongostore.Location) (bool, error) {
	return f.CreateLocationFn(ctx, l)
}
func (f *fakeStore) CountTenant(ctx context.Context, l mongostore.Location) (int64, error) {
	return f.CountTenantFn(ctx, l)
}
func (f *fakeStore) CopyTenant(ctx context.Context, src, dst mongostore.Location, batch int, afterBatch func(int64) error) error {
	return f.CopyTenantFn(ctx, src, dst, batch, afterBatch)
}
func (f *fakeStore) ScanTenant(ctx context.Context, src, dst mongostore.Location, batch int, each func([]any) error) error {
	if f.ScanTenantFn == nil {
		return errNotFaked
	}
	return f.ScanTenantFn(ctx, src, dst, batch, each)
}
func (f *fakeStore) InsertTenantDocuments(ctx context.Context, dst mongostore.Location, docs []any) error {
	if f.InsertTenantDocumentsFn == nil {
		return errNotFaked
	}
	return f.InsertTenantDocumentsFn(ctx, dst, docs)
}

var errNotFaked = errors.New("not faked: the unit tests run on one site")

func (f *fakeStore) RelabelTenant(ctx context.Context, src, dst mongostore.Location) (int64, error) {
	return f.RelabelTenantFn(ctx, src, dst)
}
func (f *fakeStore) RemoveTenant(ctx context.Context, l mongostore.Location) (int64, error) {
	return f.RemoveTenantFn(ctx, l)
}
func (f *fakeStore) RenameCollection(ctx context.Context, from, to string) error {
	return f.RenameCollectionFn(ctx, from, to)
}
func (f *fakeStore) Observe(ctx context.Context, shared string) (*mongostore.Observation, error) {
	return f.ObserveFn(ctx, shared)
}
func (f *fakeStore) RepairIndexes(ctx context.Context, obs *mongostore.Observation, shared string) ([]mongostore.Index, error) {
	return f.RepairIndexesFn(ctx, obs, shared)
}
func (f *fakeStore) GetLedgerEntry(ctx context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error) {
	return f.GetLedgerEntryFn(ctx, l)
}
func (f *fakeStore) ClaimLocation(ctx context.Context, e mongostore.LedgerEntry) error {
	return f.ClaimLocationFn(ctx, e)
}
func (f *fakeStore) TransferLocation(ctx context.Context, l mongostore.Location, fromUID, cluster, name, uid string, now time.Time) error {
	return f.TransferLocationFn(ctx, l, fromUID, cluster, name, uid, now)
}
func (f *fakeStore) RetainLocation(ctx context.Context, l mongostore.Location, uid, cluster string, now time.Time) error {
	return f.RetainLocationFn(ctx, l, uid, cluster, now)
}
func (f *fakeStore) ReleaseLocation(ctx context.Context, l mongostore.Location, cluster string) error {
	return f.ReleaseLocationFn(ctx, l, cluster)
}

// memDB is the in-memory MongoDB behind newMemStore: collections of
// documents (by _id, holding the value of their tenant field, "" in a
// dedicated collection), admin records by organization and ledger entries
// by location key.
type memDB struct {
	collections map[string]map[string]string
	admins      map[string]mongostore.Admin
	ledger      map[string]mongostore.LedgerEntry
}

// seed puts n documents of a tenant at l.
func (m *memDB) seed(l mongostore.Location, n int) {
	c := m.collections[l.Collection]
	if c == nil {
		c = map[string]string{}
		m.collections[l.Collection] = c
	}
	for i := range n {
		c[fmt.Sprintf("%s-%s-%03d", l.Collection, l.Organization, i)] = l.Organization
	}
}

// ids lists the _id values of the tenant's documents at l, sorted.
func (m *memDB) ids(l mongostore.Location) []string {
	var out []string
	for id, org := range m.collections[l.Collection] {
		if org == l.Organization {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// newMemStore returns a fakeStore backed by an in-memory database.
func newMemStore() (*fakeStore, *memDB) {
	m := &memDB{collections: map[string]map[string]string{}, admins: map[string]mongostore.Admin{}, ledger: map[string]mongostore.LedgerEntry{}}
	exists := func(name string) bool { _, ok := m.collections[name]; return ok }
	f := &fakeStore{
		DatabaseFn:         func() string { return "orgs" },
		CollectionExistsFn: func(_ context.Context, name string) (bool, error) { return exists(name), nil },
		EnsureCollectionFn: func(_ context.Context, name string) (bool, error) {
			if exists(name) {
				return false, nil
			}
			m.collections[name] = map[string]string{}
			return true, nil
		},
		DropCollectionFn: func(_ context.Context, name string) (bool, error) {
			ok := exists(name)
			delete(m.collections, name)
			return ok, nil
		},
		GetAdminFn: func(_ context.Context, org string) (*mongostore.Admin, error) {
			if a, ok := m.admins[org]; ok {
				return &a, nil
			}
			return nil, nil
		},
		CheckEmailFreeFn: func(_ context.Context, email, org string) error {
			for o, a := range m.admins {
				if a.Email == email && o != org {
					return mongostore.ErrEmailInUse
				}
			}
			return nil
		},
		CreateAdminFn: func(_ context.Context, a mongostore.Admin) error {
			if _, ok := m.admins[a.Organization]; ok {
				return mongostore.ErrAdminExists
			}
			m.admins[a.Organization] = a
			return nil
		},
		UpdateAdminFn: func(_ context.Context, a mongostore.Admin) error {
			if old, ok := m.admins[a.Organization]; !ok || old.ID != a.ID {
				return mongostore.ErrAdminNotFound
			}
			m.admins[a.Organization] = a
			return nil
		},
		DeleteAdminFn: func(_ context.Context, org string) (bool, error) {
			_, ok := m.admins[org]
			delete(m.admins, org)
			return ok, nil
		},
		RevokeSessionsFn: func(context.Context, string) error { return nil },
		RehomeAdminFn: func(_ context.Context, from, to string) (bool, error) {
			a, ok := m.admins[from]
			if _, taken := m.admins[to]; !ok || taken {
				return false, nil
			}
			delete(m.admins, from)
			a.Organization, a.CredentialsVersion = to, a.CredentialsVersion+1
			m.admins[to] = a
			return true, nil
		},
		CountTenantFn:   func(_ context.Context, l mongostore.Location) (int64, error) { return int64(len(m.ids(l))), nil },
		RepairIndexesFn: func(context.Context, *mongostore.Observation, string) ([]mongostore.Index, error) { return nil, nil },
		ObserveFn: func(_ context.Context, shared string) (*mongostore.Observation, error) {
			o := &mongostore.Observation{Taken: time.Now(), Collections: map[string]bool{}, Admins: map[string]mongostore.AdminSummary{},
				Ledger: map[string]mongostore.LedgerEntry{}, SharedDocuments: map[string]int64{}}
			for c := range m.collections {
				o.Collections[c] = true
			}
			for org, a := range m.admins {
				o.Admins[org] = summary(a)
			}
			for k, e := range m.ledger {
				o.Ledger[k] = e
			}
			for _, org := range m.collections[shared] {
				o.SharedDocuments[org]++
			}
			return o, nil
		},
	}
	f.EnsureLocationFn = func(ctx context.Context, l mongostore.Location) (bool, error) {
		return f.EnsureCollectionFn(ctx, l.Collection)
	}
	f.CreateLocationFn = f.EnsureLocationFn
	m.ledgerFns(f)
	f.RemoveTenantFn = func(_ context.Context, l mongostore.Location) (int64, error) {
		if !l.Shared() {
			delete(m.collections, l.Collection)
			return -1, nil
		}
		ids := m.ids(l)
		for _, id := range ids {
			delete(m.collections[l.Collection], id)
		}
		return int64(len(ids)), nil
	}
	f.RenameCollectionFn = func(_ context.Context, from, to string) error {
		if exists(to) {
			return fmt.Errorf("target namespace %s exists", to)
		}
		m.collections[to] = m.collections[from]
		delete(m.collections, from)
		return nil
	}
	f.CopyTenantFn = func(_ context.Context, src, dst mongostore.Location, batch int, afterBatch func(int64) error) error {
		ids := m.ids(src)
		target := m.collections[dst.Collection]
		var read int64
		for start := 0; start < len(ids); start += batch {
			for _, id := range ids[start:min(start+batch, len(ids))] {
				if owner, ok := target[id]; ok && owner != dst.Organization {
					return fmt.Errorf("%w (_id %s)", mongostore.ErrDocumentConflict, id)
				}
				target[id] = dst.Organization
				read++
			}
			if afterBatch != nil {
				if err := afterBatch(read); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return f, m
}

// ledgerFns fills the ledger's functions of f with m's ledger.
func (m *memDB) ledgerFns(f *fakeStore) {
	f.GetLedgerEntryFn = func(_ context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error) {
		if e, ok := m.ledger[l.Key()]; ok {
			return &e, nil
		}
		return nil, nil
	}
	f.ClaimLocationFn = func(_ context.Context, e mongostore.LedgerEntry) error {
		if _, ok := m.ledger[e.Key]; ok {
			return mongostore.ErrLocationClaimed
		}
		m.ledger[e.Key] = e
		return nil
	}
	f.TransferLocationFn = func(_ context.Context, l mongostore.Location, fromUID, cluster, name, uid string, _ time.Time) error {
		e, ok := m.ledger[l.Key()]
		if !ok || e.UID != fromUID || e.Cluster != cluster {
			return mongostore.ErrLedgerChanged
		}
		e.Name, e.UID, e.State, e.RetainedAt = name, uid, mongostore.LedgerActive, nil
		m.ledger[l.Key()] = e
		return nil
	}
	f.RetainLocationFn = func(_ context.Context, l mongostore.Location, uid, cluster string, now time.Time) error {
		e, ok := m.ledger[l.Key()]
		if !ok || e.UID != uid || e.Cluster != cluster {
			return mongostore.ErrLedgerChanged
		}
		e.State, e.RetainedAt = mongostore.LedgerRetained, &now
		m.ledger[l.Key()] = e
		return nil
	}
	f.ReleaseLocationFn = func(_ context.Context, l mongostore.Location, cluster string) error {
		if e, ok := m.ledger[l.Key()]; ok && e.Cluster == cluster {
			delete(m.ledger, l.Key())
		}
		return nil
	}
}
