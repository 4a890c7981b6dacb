package mongostore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Observation is one bulk read of what the operator keeps in MongoDB for
// every tenant at once: the collections of the database and the fields of
// each admin record that the controller compares. Taking one costs a
// constant number of commands, whatever the number of tenants (one
// listCollections, one find and the getMore batches of its cursor).
type Observation struct {
	// Taken is when the observation started.
	Taken time.Time
	// Collections holds the name of every collection of the database.
	Collections map[string]bool
	// Admins holds every admin record by organization.
	Admins map[string]AdminSummary
}

// AdminSummary is what the controller compares of an admin record.
type AdminSummary struct {
	Email                  string `bson:"email"`
	CredentialsFingerprint string `bson:"credentialsFingerprint"`
}

// observeBatchSize makes one getMore fetch thousands of admin summaries.
const observeBatchSize = 10000

// Observe takes an Observation. The whole read runs under one operation
// timeout per command; an unreachable server satisfies IsUnavailable.
func (s *Store) Observe(ctx context.Context) (*Observation, error) {
	o := &Observation{Taken: time.Now(), Collections: map[string]bool{}, Admins: map[string]AdminSummary{}}
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
	return o, wrap("read admin records", cur.Err())
}
