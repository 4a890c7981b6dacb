package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TenantField marks a document of a shared collection with its organization.
const TenantField = fieldOrganization

// Location is where a tenant's documents live: a whole collection
// (Organization empty) or the documents of a shared collection whose
// TenantField equals Organization.
type Location struct {
	Collection   string
	Organization string
}

// Shared reports whether the location is a slice of a shared collection.
func (l Location) Shared() bool { return l.Organization != "" }

func (l Location) filter() bson.D {
	if l.Shared() {
		return bson.D{{Key: TenantField, Value: l.Organization}}
	}
	return bson.D{}
}

func (l Location) String() string {
	if l.Shared() {
		return fmt.Sprintf("%s{%s:%q}", l.Collection, TenantField, l.Organization)
	}
	return l.Collection
}

// ErrDocumentConflict is returned when a document cannot be copied because
// a document with the same _id already belongs to another tenant.
var ErrDocumentConflict = errors.New("a document with the same _id belongs to another tenant in the target collection")

// EnsureLocation creates the collection when it does not exist (and, for a
// shared one, the index on TenantField, once per process and collection, so
// that a resync writes nothing). It reports whether the collection was created.
func (s *Store) EnsureLocation(ctx context.Context, l Location) (bool, error) {
	created, err := s.EnsureCollection(ctx, l.Collection)
	return s.indexLocation(ctx, l, created, err)
}

// CreateLocation is EnsureLocation for a collection known to be missing: it
// creates it without listing collections first (one command), and reports
// whether the server created it.
func (s *Store) CreateLocation(ctx context.Context, l Location) (bool, error) {
	created, err := s.createCollection(ctx, l.Collection)
	return s.indexLocation(ctx, l, created, err)
}

func (s *Store) indexLocation(ctx context.Context, l Location, created bool, err error) (bool, error) {
	if err != nil || !l.Shared() {
		return created, err
	}
	if _, done := s.sharedIndexed.Load(l.Collection); done && !created {
		return created, nil
	}
	if err := s.ensureIndex(ctx, l.Collection, TenantField, false); err != nil {
		return created, err
	}
	s.sharedIndexed.Store(l.Collection, true)
	return created, nil
}

// CountTenant counts the tenant's documents at l (0 when the collection is missing).
func (s *Store) CountTenant(ctx context.Context, l Location) (int64, error) {
	return s.CountDocuments(ctx, l.Collection, l.filter())
}

// RelabelTenant gives the tenant's documents in a shared collection to
// another organization by rewriting TenantField in place (src and dst name
// the same collection). It is idempotent: after an interruption the
// documents not yet rewritten still match src and a second call finishes
// them. It reports how many documents it rewrote.
func (s *Store) RelabelTenant(ctx context.Context, src, dst Location) (int64, error) {
	if !src.Shared() || !dst.Shared() || src.Collection != dst.Collection {
		return 0, fmt.Errorf("relabel needs two tenants of one shared collection, not %s and %s", src, dst)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(src.Collection).UpdateMany(ctx, src.filter(),
		bson.D{{Key: "$set", Value: bson.D{{Key: TenantField, Value: dst.Organization}}}})
	if err != nil {
		return 0, wrap("relabel tenant documents in "+src.Collection, err)
	}
	return res.ModifiedCount, nil
}

// RemoveTenant removes the tenant's documents at l: drops a dedicated
// collection, deletes only the tenant's documents from a shared one. It
// reports how many documents it removed from a shared collection (-1 for a drop).
func (s *Store) RemoveTenant(ctx context.Context, l Location) (int64, error) {
	if !l.Shared() {
		_, err := s.DropCollection(ctx, l.Collection)
		return -1, err
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(l.Collection).DeleteMany(ctx, l.filter())
	if err != nil {
		return 0, wrap("delete tenant documents from "+l.Collection, err)
	}
	return res.DeletedCount, nil
}

// CopyTenant copies the tenant's documents from src to dst, batch documents
// at a time, keeping each _id. It is idempotent: a document already in dst
// (same _id, same tenant) is left as it is, so an interrupted copy is simply
// run again. Documents copied into a shared collection get TenantField set;
// documents copied into a dedicated one lose it. afterBatch, when set, is
// called after every batch with the number of documents read so far.
func (s *Store) CopyTenant(ctx context.Context, src, dst Location, batch int, afterBatch func(read int64) error) error {
	var read int64
	return s.ScanTenant(ctx, src, dst, batch, func(docs []any) error {
		if err := s.insertTenantDocs(ctx, dst, docs); err != nil {
			return err
		}
		read += int64(len(docs))
		if afterBatch != nil {
			return afterBatch(read)
		}
		return nil
	})
}

// ScanTenant reads the tenant's documents at src in _id order (one cursor,
// so documents of every _id type come), batch at a time, and calls each
// with every batch, the documents already tagged for dst (TenantField set
// for a shared dst, removed for a dedicated one): the reading half of a
// copy to another deployment (InsertTenantDocuments on its store). An
// error of each ends the scan with it.
func (s *Store) ScanTenant(ctx context.Context, src, dst Location, batch int, each func(docs []any) error) error {
	cctx, cancel := context.WithTimeout(ctx, 10*s.opts.OperationTimeout)
	defer cancel()
	cur, err := s.db.Collection(src.Collection).Find(cctx, src.filter(),
		options.Find().SetSort(bson.D{{Key: fieldID, Value: 1}}).SetBatchSize(int32(batch)))
	if err != nil {
		return wrap("read "+src.String(), err)
	}
	defer func() { _ = cur.Close(cctx) }() // fully read or failed: nothing left to report
	docs := make([]any, 0, batch)
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		err := each(docs)
		docs = make([]any, 0, batch)
		return err
	}
	for cur.Next(cctx) {
		var doc bson.D
		if err := cur.Decode(&doc); err != nil {
			return wrap("decode "+src.String(), err)
		}
		docs = append(docs, retag(doc, dst))
		if len(docs) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return wrap("read "+src.String(), err)
	}
	return flush()
}

// InsertTenantDocuments inserts documents of a ScanTenant batch at dst,
// idempotently: a document already there (same _id, same tenant) is left
// as it is; one of another tenant in a shared collection is a conflict.
func (s *Store) InsertTenantDocuments(ctx context.Context, dst Location, docs []any) error {
	return s.insertTenantDocs(ctx, dst, docs)
}

// retag sets or removes TenantField for the destination.
func retag(doc bson.D, dst Location) bson.D {
	out := make(bson.D, 0, len(doc)+1)
	for _, e := range doc {
		if e.Key != TenantField {
			out = append(out, e)
		}
	}
	if dst.Shared() {
		out = append(out, bson.E{Key: TenantField, Value: dst.Organization})
	}
	return out
}

// insertTenantDocs inserts unordered; duplicates of the tenant's own
// documents are ignored, a duplicate owned by another tenant is a conflict.
func (s *Store) insertTenantDocs(ctx context.Context, dst Location, docs []any) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(dst.Collection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return wrap("copy into "+dst.String(), err)
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 && !strings.Contains(we.Message, "E11000") {
			return wrap("copy into "+dst.String(), err)
		}
		if dst.Shared() {
			if err := s.checkOwner(ctx, dst, idOf(docs[we.Index].(bson.D))); err != nil {
				return err
			}
		}
	}
	return nil
}

func idOf(doc bson.D) any {
	for _, e := range doc {
		if e.Key == fieldID {
			return e.Value
		}
	}
	return nil
}

// checkOwner verifies that the document with _id id in a shared collection
// belongs to dst's tenant.
func (s *Store) checkOwner(ctx context.Context, dst Location, id any) error {
	var existing bson.M
	err := s.db.Collection(dst.Collection).FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&existing)
	if err != nil {
		return wrap("check duplicate in "+dst.Collection, err)
	}
	if existing[TenantField] != dst.Organization {
		return fmt.Errorf("%w (_id %v in %s)", ErrDocumentConflict, id, dst.Collection)
	}
	return nil
}

// RenameCollection renames a collection within the database (no target
// drop: an existing target is an error).
func (s *Store) RenameCollection(ctx context.Context, from, to string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	db := s.opts.Database
	err := s.client.Database("admin").RunCommand(ctx, bson.D{
		{Key: "renameCollection", Value: db + "." + from}, {Key: "to", Value: db + "." + to},
	}).Err()
	return wrap(fmt.Sprintf("rename collection %s to %s", from, to), err)
}

// CountCollectionsWithPrefix counts the collections whose name starts with prefix.
func (s *Store) CountCollectionsWithPrefix(ctx context.Context, prefix string) (int, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return 0, wrap("list collections", err)
	}
	n := 0
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return n, nil
}

// RehomeAdmin moves the admin record of organization from to organization
// to, keeping the password hash and increasing credentialsVersion so that
// tokens issued for the old organization end, and ends the old
// organization's sessions. It reports whether a record was moved; it moves
// nothing when to already has a record.
func (s *Store) RehomeAdmin(ctx context.Context, from, to string) (bool, error) {
	existing, err := s.GetAdmin(ctx, to)
	if err != nil {
		return false, err
	}
	if existing != nil {
		return false, s.RevokeOrganizationSessions(ctx, from)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(AdminsCollection).UpdateOne(ctx, bson.D{{Key: fieldOrganization, Value: from}},
		bson.D{{Key: opSet, Value: bson.D{{Key: fieldOrganization, Value: to}}}, {Key: opInc, Value: bson.D{{Key: "credentialsVersion", Value: 1}}}})
	if err != nil {
		return false, wrap("re-home admin of "+from, err)
	}
	// The old organization's sessions end (authentication reads only the
	// session); retried until the rename completes, so a crash right after
	// the move still ends them.
	return res.ModifiedCount > 0, s.RevokeOrganizationSessions(ctx, from)
}
