// Package seed is the only writer behind the system's back in tests: it
// writes a tenant's documents the way an application does, and breaks
// invariants on purpose (a document deleted, a collection dropped, a forged
// ledger entry) for tests and checker self-tests. It does not go through
// internal/mongostore, the code under test.
package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// idField is a document's id.
const idField = "_id"

// Mongo writes one database with its own client.
type Mongo struct {
	client *mongo.Client
	db     *mongo.Database
}

// ConnectMongo creates a writer for database at uri; it does not wait for
// the server.
func ConnectMongo(uri, database string) (*Mongo, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second).SetAppName("org-operator-seed"))
	if err != nil {
		return nil, err
	}
	return &Mongo{client: c, db: c.Database(database)}, nil
}

// Close disconnects.
func (m *Mongo) Close(ctx context.Context) error { return m.client.Disconnect(ctx) }

// InsertMany inserts docs into coll. A connection that breaks mid-way (the
// store was killed and restarted under a pooled connection) leaves it
// unknown which documents arrived; the documents are then written again one
// by one as upserts by _id, so each is there exactly once. Documents
// without an _id cannot be retried and the error is returned.
func (m *Mongo) InsertMany(ctx context.Context, coll string, docs []any) error {
	_, err := m.db.Collection(coll).InsertMany(ctx, docs)
	if err == nil || !mongo.IsNetworkError(err) {
		return err
	}
	for _, d := range docs {
		raw, merr := bson.Marshal(d)
		if merr != nil {
			return errors.Join(err, merr)
		}
		id, lerr := bson.Raw(raw).LookupErr(idField)
		if lerr != nil {
			return fmt.Errorf("%w (and a document without _id cannot be written again)", err)
		}
		if _, rerr := m.db.Collection(coll).ReplaceOne(ctx, bson.D{{Key: idField, Value: id}}, bson.Raw(raw),
			options.Replace().SetUpsert(true)); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return nil
}

// Documents inserts n documents into coll with ids <prefix>-0000 and up,
// and tenant set as their organization field when not empty (a Shared
// tenant's documents). Ids are unique across tenants when prefix is.
func (m *Mongo) Documents(ctx context.Context, coll, prefix, tenant string, n int) error {
	docs := make([]any, n)
	for i := range n {
		d := bson.D{{Key: idField, Value: fmt.Sprintf("%s-%04d", prefix, i)}, {Key: "n", Value: i},
			{Key: "text", Value: fmt.Sprintf("document number %d", i)}}
		if tenant != "" {
			d = append(d, bson.E{Key: "organization", Value: tenant})
		}
		docs[i] = d
	}
	return m.InsertMany(ctx, coll, docs)
}

// DeleteOne removes one document matching filter.
func (m *Mongo) DeleteOne(ctx context.Context, coll string, filter any) (int64, error) {
	res, err := m.db.Collection(coll).DeleteOne(ctx, filter)
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}

// DeleteMany removes the documents matching filter.
func (m *Mongo) DeleteMany(ctx context.Context, coll string, filter any) (int64, error) {
	res, err := m.db.Collection(coll).DeleteMany(ctx, filter)
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}

// Drop drops coll (a collection dropped out of band).
func (m *Mongo) Drop(ctx context.Context, coll string) error {
	return m.db.Collection(coll).Drop(ctx)
}

// DropIndex drops coll's index name (an index dropped out of band).
func (m *Mongo) DropIndex(ctx context.Context, coll, name string) error {
	return m.db.Collection(coll).Indexes().DropOne(ctx, name)
}

// LedgerEntry writes an ownership ledger entry for the dedicated collection
// of organization (uid, cluster, state "active" or "retained") the way the
// operator does, for tests of what the operator does with one it did not
// write (a lost organization, another cluster's).
func (m *Mongo) LedgerEntry(ctx context.Context, organization, uid, cluster, state string) error {
	now := time.Now().UTC()
	coll := "org_" + organization
	d := bson.D{{Key: idField, Value: coll}, {Key: "collection", Value: coll}, {Key: "name", Value: organization},
		{Key: "uid", Value: uid}, {Key: "cluster", Value: cluster}, {Key: "state", Value: state},
		{Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}}
	if state == "retained" {
		d = append(d, bson.E{Key: "retainedAt", Value: now})
	}
	_, err := m.db.Collection("tenants").InsertOne(ctx, d)
	return err
}

// CreateUser creates a MongoDB user without roles in the seed's database,
// behind the operator's back (a user left over, or written by hand).
func (m *Mongo) CreateUser(ctx context.Context, name, password string) error {
	return m.db.RunCommand(ctx, bson.D{{Key: "createUser", Value: name}, {Key: "pwd", Value: password},
		{Key: "roles", Value: bson.A{}}, {Key: "mechanisms", Value: bson.A{"SCRAM-SHA-256"}}}).Err()
}

// DropUser drops a MongoDB user of the seed's database.
func (m *Mongo) DropUser(ctx context.Context, name string) error {
	return m.db.RunCommand(ctx, bson.D{{Key: "dropUser", Value: name}}).Err()
}

// Upsert writes doc as the document of coll with its _id (replacing one).
func (m *Mongo) Upsert(ctx context.Context, coll string, id, doc any) error {
	_, err := m.db.Collection(coll).ReplaceOne(ctx, bson.D{{Key: idField, Value: id}}, doc, options.Replace().SetUpsert(true))
	return err
}

// Ping reports whether the server answers (after a restart of the server,
// the first call drops the pool's dead connections).
func (m *Mongo) Ping(ctx context.Context) error { return m.client.Ping(ctx, nil) }
