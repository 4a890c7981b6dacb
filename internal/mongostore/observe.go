package mongostore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Observation is one bulk read of what the operator keeps in MongoDB for
// every tenant at once: the collections of the database, the fields of each
// admin record that the controller compares, the ownership ledger, and how
// many documents each tenant has in the shared collection. Taking one costs
// a constant number of commands, whatever the number of tenants (one
// listCollections, two finds, one aggregate and one listIndexes per indexed
// collection, plus the getMore batches of their cursors).
type Observation struct {
	// Taken is when the observation started.
	Taken time.Time
	// Collections holds the name of every collection of the database.
	Collections map[string]bool
	// Admins holds every admin record by organization.
	Admins map[string]AdminSummary
	// Ledger holds every ledger entry by location key.
	Ledger map[string]LedgerEntry
	// SharedDocuments counts each tenant's documents in the shared collection.
	SharedDocuments map[string]int64
	// Indexes holds, for each existing collection that needs indexes
	// (RequiredIndexes), the names of the indexes it has.
	Indexes map[string]map[string]bool
}

// AdminSummary is what the controller compares of an admin record.
type AdminSummary struct {
	Email                  string `bson:"email"`
	CredentialsFingerprint string `bson:"credentialsFingerprint"`
}

// observeBatchSize makes one getMore fetch thousands of admin summaries.
const observeBatchSize = 10000

// Observe takes an Observation; sharedCollection is the collection of Shared
// tenants. Each command runs under its own timeout; an unreachable server
// satisfies IsUnavailable.
func (s *Store) Observe(ctx context.Context, sharedCollection string) (*Observation, error) {
	o := &Observation{Taken: time.Now(), Collections: map[string]bool{}, Admins: map[string]AdminSummary{},
		Ledger: map[string]LedgerEntry{}, SharedDocuments: map[string]int64{}}
	cctx, cancel := s.callContext(ctx)
	names, err := s.db.ListCollectionNames(cctx, bson.D{})
	cancel()
	if err != nil {
		return nil, wrap("list collections", err)
	}
	for _, n := range names {
		o.Collections[n] = true
	}
	cctx, cancel = s.callContext(ctx)
	defer cancel()
	cur, err := s.db.Collection(AdminsCollection).Find(cctx, bson.D{}, options.Find().
		SetProjection(bson.D{{Key: fieldID, Value: 0}, {Key: fieldOrganization, Value: 1}, {Key: fieldEmail, Value: 1}, {Key: "credentialsFingerprint", Value: 1}}).
		SetBatchSize(observeBatchSize))
	if err != nil {
		return nil, wrap("read admin records", err)
	}
	defer func() { _ = cur.Close(cctx) }() // fully read or failed: nothing left to report
	for cur.Next(cctx) {
		var a struct {
			Organization string `bson:"organization"`
			AdminSummary `bson:",inline"`
		}
		if err := cur.Decode(&a); err != nil {
			return nil, wrap("decode admin record", err)
		}
		o.Admins[a.Organization] = a.AdminSummary
	}
	if err := cur.Err(); err != nil {
		return nil, wrap("read admin records", err)
	}
	entries, err := s.ListLedger(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		o.Ledger[e.Key] = e
	}
	if o.Collections[sharedCollection] {
		if o.SharedDocuments, err = s.countByTenant(ctx, sharedCollection); err != nil {
			return nil, err
		}
	}
	if err := s.observeIndexes(ctx, o, sharedCollection); err != nil {
		return nil, err
	}
	return o, nil
}

// countByTenant counts the documents of each tenant of a shared collection
// in one aggregation.
func (s *Store) countByTenant(ctx context.Context, collection string) (map[string]int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	cur, err := s.db.Collection(collection).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$group", Value: bson.D{{Key: fieldID, Value: "$" + TenantField}, {Key: "documents", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}, options.Aggregate().SetBatchSize(observeBatchSize))
	if err != nil {
		return nil, wrap("count tenants' documents in "+collection, err)
	}
	var rows []struct {
		Tenant    any   `bson:"_id"`
		Documents int64 `bson:"documents"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, wrap("count tenants' documents in "+collection, err)
	}
	counts := make(map[string]int64, len(rows))
	for _, r := range rows {
		if name, ok := r.Tenant.(string); ok {
			counts[name] = r.Documents
		}
	}
	return counts, nil
}
