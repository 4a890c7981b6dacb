package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// AdminsCollection holds one admin record per organization.
const AdminsCollection = "admins"

// Admin is an organization's admin record. PasswordHash is a PHC string; the
// clear password is never stored here.
type Admin struct {
	// ID is the admin's stable id (the JWT subject).
	ID string `bson:"_id"`
	// Organization is the Organization's metadata.name (unique).
	Organization string `bson:"organization"`
	// Email is the normalized login email (unique across organizations).
	Email string `bson:"email"`
	// PasswordHash is the argon2id hash in PHC string form.
	PasswordHash string `bson:"passwordHash"`
	// CredentialsVersion increases on every password change; tokens carrying
	// an older version are refused.
	CredentialsVersion int64 `bson:"credentialsVersion"`
	// CredentialsFingerprint identifies the credential source the hash was
	// computed from (Secret UID, resourceVersion and key), so the hash is
	// recomputed only when the credential changed.
	CredentialsFingerprint string `bson:"credentialsFingerprint"`
	// UpdatedAt is the time of the last write.
	UpdatedAt time.Time `bson:"updatedAt"`
}

// NormalizeEmail is the canonical form under which emails are stored and looked up.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// indexes are created once per process, before the first write that needs
// them; a failure is retried on the next call.
var indexes = []struct {
	collection, field string
	unique            bool
}{
	{AdminsCollection, fieldOrganization, true},
	{AdminsCollection, fieldEmail, true},
	{SessionsCollection, fieldOrganization, false},
	{RefreshUsesCollection, "next", false},
	{LoginAttemptsCollection, fieldAccount, false},
}

type indexState struct {
	mu   sync.Mutex
	done bool
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	s.indexes.mu.Lock()
	defer s.indexes.mu.Unlock()
	if s.indexes.done {
		return nil
	}
	for _, ix := range indexes {
		if err := s.ensureIndex(ctx, ix.collection, ix.field, ix.unique); err != nil {
			return err
		}
	}
	s.indexes.done = true
	return nil
}

// GetAdmin returns the admin record of an organization, or nil when there is none.
func (s *Store) GetAdmin(ctx context.Context, organization string) (*Admin, error) {
	return s.findAdmin(ctx, bson.D{{Key: fieldOrganization, Value: organization}})
}

// GetAdminByEmail returns the admin record holding email, or nil when there is none.
func (s *Store) GetAdminByEmail(ctx context.Context, email string) (*Admin, error) {
	return s.findAdmin(ctx, bson.D{{Key: fieldEmail, Value: NormalizeEmail(email)}})
}

func (s *Store) findAdmin(ctx context.Context, filter bson.D) (*Admin, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var a Admin
	err := s.db.Collection(AdminsCollection).FindOne(ctx, filter).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("find admin", err)
	}
	return &a, nil
}

// CreateAdmin inserts the admin record a (a plain insert: a point write on
// MongoDB and FerretDB alike, whatever the number of records). It returns
// ErrEmailInUse when another organization holds the email and
// ErrAdminExists when the organization already has a record; nothing is
// written then.
func (s *Store) CreateAdmin(ctx context.Context, a Admin) error {
	a.Email = NormalizeEmail(a.Email)
	if err := s.ensureIndexes(ctx); err != nil {
		return err
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = time.Now().UTC()
	}
	err := s.InsertOne(ctx, AdminsCollection, a)
	if err == nil || !IsDuplicateKey(err) {
		return err
	}
	if cerr := s.CheckEmailFree(ctx, a.Email, a.Organization); cerr != nil {
		return cerr
	}
	return ErrAdminExists
}

// UpdateAdmin replaces the email, hash, credentials version and fingerprint
// of the existing record a.ID. The unique index on email rejects an email
// held by another organization; a failed write is then classified by
// reading who holds the email, because FerretDB v1 reports a unique-index
// violation caused by an update as an internal error rather than E11000, so
// the error code alone cannot be trusted. It returns ErrEmailInUse when
// another organization holds the email, ErrAdminNotFound when the record is
// gone; nothing was written then.
func (s *Store) UpdateAdmin(ctx context.Context, a Admin) error {
	a.Email = NormalizeEmail(a.Email)
	if err := s.ensureIndexes(ctx); err != nil {
		return err
	}
	return s.classifyWriteError(ctx, s.updateAdmin(ctx, a), a)
}

// classifyWriteError turns a failed admin write into ErrEmailInUse when the
// email turns out to belong to another organization (a concurrent writer won
// the race between the check and the write); other errors pass unchanged.
func (s *Store) classifyWriteError(ctx context.Context, err error, a Admin) error {
	if err == nil || IsUnavailable(err) || errors.Is(err, ErrAdminNotFound) {
		return err
	}
	if cerr := s.CheckEmailFree(ctx, a.Email, a.Organization); cerr != nil {
		return cerr
	}
	return err
}

// CheckEmailFree returns ErrEmailInUse when an organization other than
// organization holds email (a read; nothing is written).
func (s *Store) CheckEmailFree(ctx context.Context, email, organization string) error {
	holder, err := s.GetAdminByEmail(ctx, email)
	if err != nil {
		return err
	}
	if holder != nil && holder.Organization != organization {
		return ErrEmailInUse
	}
	return nil
}

func (s *Store) updateAdmin(ctx context.Context, a Admin) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = time.Now().UTC()
	}
	set := bson.D{
		{Key: fieldEmail, Value: a.Email},
		{Key: "passwordHash", Value: a.PasswordHash},
		{Key: "credentialsVersion", Value: a.CredentialsVersion},
		{Key: "credentialsFingerprint", Value: a.CredentialsFingerprint},
		{Key: fieldUpdatedAt, Value: a.UpdatedAt},
	}
	res, err := s.db.Collection(AdminsCollection).UpdateOne(ctx,
		bson.D{{Key: fieldID, Value: a.ID}, {Key: fieldOrganization, Value: a.Organization}}, bson.D{{Key: opSet, Value: set}})
	if err != nil {
		return wrap(fmt.Sprintf("update admin of %s", a.Organization), err)
	}
	if res.MatchedCount == 0 {
		return ErrAdminNotFound
	}
	return nil
}

// DeleteAdmin removes an organization's admin record when present and
// ends the organization's REST API sessions, before and after (a login that
// raced the deletion re-checks the record and is refused, or its session is
// deleted by the second pass); it reports whether a record was removed.
// Safe to retry: the sessions are deleted whether or not a record was.
func (s *Store) DeleteAdmin(ctx context.Context, organization string) (bool, error) {
	if err := s.RevokeOrganizationSessions(ctx, organization); err != nil {
		return false, err
	}
	removed, err := s.deleteAdminRecord(ctx, organization)
	if err != nil {
		return false, err
	}
	return removed, s.RevokeOrganizationSessions(ctx, organization)
}

func (s *Store) deleteAdminRecord(ctx context.Context, organization string) (bool, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(AdminsCollection).DeleteOne(ctx, bson.D{{Key: fieldOrganization, Value: organization}})
	if err != nil {
		return false, wrap("delete admin of "+organization, err)
	}
	return res.DeletedCount > 0, nil
}
