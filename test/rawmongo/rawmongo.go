// Package rawmongo is an independent MongoDB client for tests and
// benchmarks: it reads what is really stored and writes a tenant's
// documents the way an application does, without going through
// internal/mongostore, so a checker does not share the code it checks.
package rawmongo

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Reader reads one database.
type Reader struct {
	client *mongo.Client
	db     *mongo.Database
}

// Connect creates a client for uri; it does not wait for the server.
func Connect(uri, database string) (*Reader, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second).SetAppName("org-operator-checker"))
	if err != nil {
		return nil, err
	}
	return &Reader{client: c, db: c.Database(database)}, nil
}

// Close disconnects.
func (r *Reader) Close(ctx context.Context) error { return r.client.Disconnect(ctx) }

// Documents returns every document of coll matching filter (nil: all) as
// canonical extended JSON, sorted: a multiset that compares with ==.
func (r *Reader) Documents(ctx context.Context, coll string, filter any) ([]string, error) {
	if filter == nil {
		filter = bson.D{}
	}
	cur, err := r.db.Collection(coll).Find(ctx, filter)
	if err != nil {
		return nil, err
	}
	var docs []bson.D
	if err := cur.All(ctx, &docs); err != nil {
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

// Decode reads every document of coll matching filter into out (a pointer to a slice).
func (r *Reader) Decode(ctx context.Context, coll string, filter, out any) error {
	if filter == nil {
		filter = bson.D{}
	}
	cur, err := r.db.Collection(coll).Find(ctx, filter)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// Collections lists the database's collections, sorted.
func (r *Reader) Collections(ctx context.Context) ([]string, error) {
	names, err := r.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// DeleteOne removes one document matching filter (for checker self-tests
// that break an invariant behind the system's back).
func (r *Reader) DeleteOne(ctx context.Context, coll string, filter any) (int64, error) {
	res, err := r.db.Collection(coll).DeleteOne(ctx, filter)
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}

// InsertMany inserts docs into coll.
func (r *Reader) InsertMany(ctx context.Context, coll string, docs []any) error {
	_, err := r.db.Collection(coll).InsertMany(ctx, docs)
	return err
}

// Drop drops coll.
func (r *Reader) Drop(ctx context.Context, coll string) error {
	return r.db.Collection(coll).Drop(ctx)
}
