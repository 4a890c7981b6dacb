// Package check holds the independent checks test suites assert with: a
// read-only MongoDB client that does not go through internal/mongostore
// (the code under test), the wait for an Organization to converge, and a
// scraper of the manager's Prometheus metrics. Nothing here writes; the
// only writer behind the system's back is internal/testsupport/seed.
package check

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Mongo reads one database with its own client.
type Mongo struct {
	client *mongo.Client
	db     *mongo.Database
}

// ConnectMongo creates a reader for database at uri; it does not wait for
// the server.
func ConnectMongo(uri, database string) (*Mongo, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second).
		SetAppName("org-operator-checker").SetReadPreference(readpref.Primary()))
	if err != nil {
		return nil, err
	}
	return &Mongo{client: c, db: c.Database(database)}, nil
}

// Close disconnects.
func (m *Mongo) Close(ctx context.Context) error { return m.client.Disconnect(ctx) }

// Documents returns every document of coll matching filter (nil: all) as
// canonical extended JSON, sorted: a multiset that compares with ==.
func (m *Mongo) Documents(ctx context.Context, coll string, filter any) ([]string, error) {
	var docs []bson.D
	if err := m.Decode(ctx, coll, filter, &docs); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		b, err := bson.MarshalExtJSON(d, true, false)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out, nil
}

// Decode reads every document of coll matching filter (nil: all) into out
// (a pointer to a slice).
func (m *Mongo) Decode(ctx context.Context, coll string, filter, out any) error {
	if filter == nil {
		filter = bson.D{}
	}
	cur, err := m.db.Collection(coll).Find(ctx, filter)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// Count counts the documents of coll matching filter (nil: all).
func (m *Mongo) Count(ctx context.Context, coll string, filter any) (int64, error) {
	if filter == nil {
		filter = bson.D{}
	}
	return m.db.Collection(coll).CountDocuments(ctx, filter)
}

// Collections lists the database's collections, sorted.
func (m *Mongo) Collections(ctx context.Context) ([]string, error) {
	names, err := m.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// CollectionExists reports whether coll exists.
func (m *Mongo) CollectionExists(ctx context.Context, coll string) (bool, error) {
	names, err := m.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: coll}})
	return len(names) > 0, err
}

// Database is the underlying database handle, for a read this package does
// not offer (a suite must not write through it: use seed).
func (m *Mongo) Database() *mongo.Database { return m.db }

// Indexes returns the indexes of coll by name, each with whether it is unique.
func (m *Mongo) Indexes(ctx context.Context, coll string) (map[string]bool, error) {
	cur, err := m.db.Collection(coll).Indexes().List(ctx)
	if err != nil {
		return nil, err
	}
	var specs []struct {
		Name   string `bson:"name"`
		Unique bool   `bson:"unique"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(specs))
	for _, s := range specs {
		out[s.Name] = s.Unique
	}
	return out, nil
}

// Ping reports whether the server answers (after a restart of the server,
// the first call drops the pool's dead connections).
func (m *Mongo) Ping(ctx context.Context) error { return m.client.Ping(ctx, nil) }
