package mongostore

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// LedgerCollection records, beside the data, which tenant owns which data:
// one entry per location (a dedicated collection, or one organization's
// documents in a shared collection), keyed by the location, so a location
// has exactly one owner and claiming it is a single insert (atomic on
// MongoDB and FerretDB alike).
const LedgerCollection = "tenants"

// States of a ledger entry.
const (
	// LedgerActive: the location belongs to a live Organization.
	LedgerActive = "active"
	// LedgerRetained: its Organization was deleted with deletionPolicy
	// Retain; only an explicit adoption gives the data to a new one.
	LedgerRetained = "retained"
)

// Named ledger errors.
var (
	// ErrLocationClaimed: ClaimLocation found an entry for the location.
	ErrLocationClaimed = errors.New("the location already has an owner in the ledger")
	// ErrLedgerChanged: the entry changed (or went) since it was read.
	ErrLedgerChanged = errors.New("the ledger entry changed since it was read")
)

// LedgerEntry says who owns the data at a location.
type LedgerEntry struct {
	// Key identifies the location (Location.Key).
	Key        string `bson:"_id"`
	Collection string `bson:"collection"`
	// Filter is the shared collection's tenant field value ("" for a dedicated collection).
	Filter string `bson:"filter,omitempty"`
	// Name and UID are the owning Organization's metadata.name and metadata.uid.
	Name string `bson:"name"`
	UID  string `bson:"uid"`
	// Cluster identifies the Kubernetes cluster whose Organization owns it.
	Cluster    string     `bson:"cluster"`
	State      string     `bson:"state"`
	CreatedAt  time.Time  `bson:"createdAt"`
	UpdatedAt  time.Time  `bson:"updatedAt"`
	RetainedAt *time.Time `bson:"retainedAt,omitempty"`
}

// Location is where the entry's data is.
func (e LedgerEntry) Location() Location {
	return Location{Collection: e.Collection, Organization: e.Filter}
}

// Key identifies a location in the ledger: the collection, or
// collection/organization for a slice of a shared collection.
func (l Location) Key() string {
	if l.Shared() {
		return l.Collection + "/" + l.Organization
	}
	return l.Collection
}

// NewLedgerEntry is an active entry of an organization at l.
func NewLedgerEntry(l Location, name, uid, cluster string, now time.Time) LedgerEntry {
	return LedgerEntry{Key: l.Key(), Collection: l.Collection, Filter: l.Organization, Name: name, UID: uid, Cluster: cluster,
		State: LedgerActive, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
}

// GetLedgerEntry reads the entry of a location (a point read by _id), nil when there is none.
func (s *Store) GetLedgerEntry(ctx context.Context, l Location) (*LedgerEntry, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var e LedgerEntry
	err := s.db.Collection(LedgerCollection).FindOne(ctx, bson.D{{Key: fieldID, Value: l.Key()}}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("read ledger entry "+l.Key(), err)
	}
	return &e, nil
}

// ClaimLocation inserts e; ErrLocationClaimed when the location already has an entry.
func (s *Store) ClaimLocation(ctx context.Context, e LedgerEntry) error {
	err := s.InsertOne(ctx, LedgerCollection, e)
	if IsDuplicateKey(err) {
		return ErrLocationClaimed
	}
	return err
}

// TransferLocation gives the entry of location l, as long as it is still
// owned by fromUID in cluster, to the organization name/uid, active (a
// restore or an explicit adoption). ErrLedgerChanged when it changed meanwhile.
func (s *Store) TransferLocation(ctx context.Context, l Location, fromUID, cluster, name, uid string, now time.Time) error {
	return s.updateLedger(ctx, l, fromUID, cluster, bson.D{
		{Key: opSet, Value: bson.D{{Key: "name", Value: name}, {Key: "uid", Value: uid}, {Key: "state", Value: LedgerActive},
			{Key: fieldUpdatedAt, Value: now.UTC()}}},
		{Key: "$unset", Value: bson.D{{Key: "retainedAt", Value: ""}}},
	})
}

// RetainLocation marks the entry of l, owned by uid in cluster, retained (its
// Organization was deleted with deletionPolicy Retain).
func (s *Store) RetainLocation(ctx context.Context, l Location, uid, cluster string, now time.Time) error {
	return s.updateLedger(ctx, l, uid, cluster, bson.D{{Key: opSet, Value: bson.D{
		{Key: "state", Value: LedgerRetained}, {Key: "retainedAt", Value: now.UTC()}, {Key: fieldUpdatedAt, Value: now.UTC()}}}})
}

func (s *Store) updateLedger(ctx context.Context, l Location, uid, cluster string, update bson.D) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(LedgerCollection).UpdateOne(ctx,
		bson.D{{Key: fieldID, Value: l.Key()}, {Key: "uid", Value: uid}, {Key: "cluster", Value: cluster}}, update)
	if err != nil {
		return wrap("update ledger entry "+l.Key(), err)
	}
	if res.MatchedCount == 0 {
		return ErrLedgerChanged
	}
	return nil
}

// ReleaseLocation removes the entry of l when cluster owns it (its data was
// dropped or moved away); a missing entry is not an error.
func (s *Store) ReleaseLocation(ctx context.Context, l Location, cluster string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(LedgerCollection).DeleteOne(ctx, bson.D{{Key: fieldID, Value: l.Key()}, {Key: "cluster", Value: cluster}})
	return wrap("release ledger entry "+l.Key(), err)
}

// ListLedger reads every ledger entry (one find and its getMore batches).
func (s *Store) ListLedger(ctx context.Context) ([]LedgerEntry, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	cur, err := s.db.Collection(LedgerCollection).Find(ctx, bson.D{}, options.Find().SetBatchSize(observeBatchSize))
	if err != nil {
		return nil, wrap("read the ledger", err)
	}
	var out []LedgerEntry
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("read the ledger", err)
	}
	return out, nil
}
