package mongostore

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollectionExists reports whether the collection exists (a read; no writes).
func (s *Store) CollectionExists(ctx context.Context, name string) (bool, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	names, err := s.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: name}})
	if err != nil {
		return false, wrap("list collections", err)
	}
	return len(names) > 0, nil
}

// EnsureCollection creates the collection explicitly, so it exists while
// empty. It reports whether it created it; an existing collection is not an error.
func (s *Store) EnsureCollection(ctx context.Context, name string) (created bool, err error) {
	exists, err := s.CollectionExists(ctx, name)
	if err != nil || exists {
		return false, err
	}
	return s.createCollection(ctx, name)
}

// createCollection creates the collection without looking first; an
// existing one is reported as not created when the server says so.
func (s *Store) createCollection(ctx context.Context, name string) (created bool, err error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	if err := s.db.CreateCollection(ctx, name); err != nil {
		if hasCode(err, codeNamespaceExists) {
			return false, nil
		}
		return false, wrap("create collection "+name, err)
	}
	return true, nil
}

// DropCollection drops the collection and every document in it. It reports
// whether the collection existed; dropping a missing collection is not an error.
func (s *Store) DropCollection(ctx context.Context, name string) (dropped bool, err error) {
	exists, err := s.CollectionExists(ctx, name)
	if err != nil || !exists {
		return false, err
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	if err := s.db.Collection(name).Drop(cctx); err != nil {
		return false, wrap("drop collection "+name, err)
	}
	return true, nil
}

// EnsureUniqueIndex creates a unique ascending index on field (idempotent:
// creating an identical index again is a no-op on the server).
func (s *Store) EnsureUniqueIndex(ctx context.Context, collection, field string) error {
	return s.ensureIndex(ctx, collection, field, true)
}

func (s *Store) ensureIndex(ctx context.Context, collection, field string, unique bool) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(collection).Indexes().CreateOne(ctx, mongoIndex(field, unique))
	return wrap("create index "+collection+"."+field, err)
}

// CountDocuments counts the documents of a collection matching filter (nil: all).
func (s *Store) CountDocuments(ctx context.Context, collection string, filter any) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := s.db.Collection(collection).CountDocuments(ctx, filter)
	return n, wrap("count "+collection, err)
}

// InsertOne inserts one document into a collection.
func (s *Store) InsertOne(ctx context.Context, collection string, doc any) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(collection).InsertOne(ctx, doc)
	return wrap("insert into "+collection, err)
}

func mongoIndex(field string, unique bool) mongo.IndexModel {
	return mongo.IndexModel{
		Keys:    bson.D{{Key: field, Value: 1}},
		Options: options.Index().SetUnique(unique).SetName(field + "_1"),
	}
}
