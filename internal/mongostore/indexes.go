package mongostore

import (
	"context"
	"errors"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Index is an index the operator relies on: an ascending index on one
// field, unique or not, named <field>_1.
type Index struct {
	Collection string
	Field      string
	Unique     bool
}

// Name is the index's name as the operator creates it.
func (ix Index) Name() string { return ix.Field + "_1" }

func (ix Index) String() string { return ix.Collection + "." + ix.Name() }

// RequiredIndexes are the indexes the operator's records and the shared
// collection need: the unique ones keep one admin record per organization
// and per email; the others keep lookups from scanning.
func RequiredIndexes(sharedCollection string) []Index {
	out := make([]Index, 0, len(indexes)+1)
	for _, ix := range indexes {
		out = append(out, Index{Collection: ix.collection, Field: ix.field, Unique: ix.unique})
	}
	return append(out, Index{Collection: sharedCollection, Field: TenantField})
}

// observeIndexes lists the indexes of every existing collection that needs
// some (one listIndexes each: a constant number of commands per pass).
func (s *Store) observeIndexes(ctx context.Context, o *Observation, sharedCollection string) error {
	o.Indexes = map[string]map[string]bool{}
	for _, ix := range RequiredIndexes(sharedCollection) {
		if _, listed := o.Indexes[ix.Collection]; listed || !o.Collections[ix.Collection] {
			continue
		}
		names, err := s.indexNames(ctx, ix.Collection)
		if err != nil {
			return err
		}
		o.Indexes[ix.Collection] = names
	}
	return nil
}

func (s *Store) indexNames(ctx context.Context, collection string) (map[string]bool, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	cur, err := s.db.Collection(collection).Indexes().List(ctx)
	if err != nil {
		var ce mongo.CommandError
		if errors.As(err, &ce) && ce.Code == codeNamespaceNotFound {
			return map[string]bool{}, nil // dropped since the listing: nothing to repair in it
		}
		return nil, wrap("list indexes of "+collection, err)
	}
	var specs []bson.M
	if err := cur.All(ctx, &specs); err != nil {
		return nil, wrap("list indexes of "+collection, err)
	}
	names := map[string]bool{}
	for _, spec := range specs {
		if n, ok := spec["name"].(string); ok {
			names[n] = true
		}
	}
	return names, nil
}

// codeNamespaceNotFound is MongoDB's error code for a missing collection.
const codeNamespaceNotFound = 26

// RepairIndexes creates again the required indexes of existing collections
// that obs does not show (dropped out of band), and returns them. A unique
// index that cannot be built (duplicates crept in while it was missing) is
// an error naming it; the others are still repaired.
func (s *Store) RepairIndexes(ctx context.Context, obs *Observation, sharedCollection string) ([]Index, error) {
	var repaired []Index
	var errs []error
	for _, ix := range RequiredIndexes(sharedCollection) {
		names, listed := obs.Indexes[ix.Collection]
		if !listed || names[ix.Name()] {
			continue
		}
		if err := s.ensureIndex(ctx, ix.Collection, ix.Field, ix.Unique); err != nil {
			errs = append(errs, err)
			continue
		}
		repaired = append(repaired, ix)
	}
	return slices.Clip(repaired), errors.Join(errs...)
}
