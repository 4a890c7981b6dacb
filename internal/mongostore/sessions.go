package mongostore

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// SessionsCollection holds login sessions: one refresh-token family each.
const SessionsCollection = "sessions"

// RefreshUsesCollection records every refresh token exchanged (by hash, as
// _id) and the token it was exchanged for: the unique _id makes "first use
// wins" atomic on MongoDB and on FerretDB alike (FerretDB's findAndModify is
// not atomic under concurrency, and its updates rewrite whole documents).
const RefreshUsesCollection = "refreshTokenUses"

// Session is a login session of an admin. Only hashes of refresh tokens are
// stored. Revoking a session deletes it: on FerretDB an update rewrites the
// whole document, so a "revoked" flag could be lost to a concurrent refresh,
// while an update of a deleted document changes nothing.
type Session struct {
	ID           string `bson:"_id"`
	Organization string `bson:"organization"`
	AdminID      string `bson:"adminId"`
	// CredentialsVersion is the admin's credentialsVersion at login: a
	// password change ends the session.
	CredentialsVersion int64 `bson:"credentialsVersion"`
	// RefreshHash is the hash of the refresh token issued at login, which
	// expires at RefreshExpiresAt; later tokens are in RefreshUsesCollection.
	RefreshHash      string    `bson:"refreshHash"`
	RefreshExpiresAt time.Time `bson:"refreshExpiresAt"`
	CreatedAt        time.Time `bson:"createdAt"`
	// ExpiresAt is when the newest refresh token expires; expired sessions
	// are removed by DeleteExpiredSessions (FerretDB has no TTL indexes).
	ExpiresAt time.Time `bson:"expiresAt"`
}

// refreshUse records that the refresh token with hash ID was exchanged for
// the token with hash Next.
type refreshUse struct {
	ID            string    `bson:"_id"`
	Session       string    `bson:"session"`
	Next          string    `bson:"next"`
	NextExpiresAt time.Time `bson:"nextExpiresAt"`
	ExpiresAt     time.Time `bson:"expiresAt"`
}

// RotateResult is the outcome of presenting a refresh token.
type RotateResult int

const (
	// Rotated: the token was current and has been replaced.
	Rotated RotateResult = iota
	// Reused: the token had already been exchanged; the session is now revoked.
	Reused
	// Invalid: unknown, expired or revoked session, or a token never issued.
	Invalid
)

// CreateSession inserts a new session.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	if sess.RefreshExpiresAt.IsZero() {
		sess.RefreshExpiresAt = sess.ExpiresAt
	}
	if err := s.ensureIndexes(ctx); err != nil {
		return err
	}
	return s.InsertOne(ctx, SessionsCollection, sess)
}

// GetSession returns a session, or nil when there is none.
func (s *Store) GetSession(ctx context.Context, id string) (*Session, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var sess Session
	err := s.db.Collection(SessionsCollection).FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&sess)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("find session", err)
	}
	return &sess, nil
}

// RotateRefresh exchanges the refresh token with hash oldHash, issued for
// session id, for a new token with hash newHash valid until expiresAt. The
// exchange is one insert keyed by oldHash, so of two concurrent exchanges of
// one token exactly one succeeds; the other, like any later presentation of a
// used token, is reuse: the session is revoked and Reused returned (RFC 9700
// 4.14.2), which also ends the winner's new tokens. A token never issued for
// the session, an expired one, or a revoked session is Invalid.
func (s *Store) RotateRefresh(ctx context.Context, id, oldHash, newHash string, now, expiresAt time.Time) (RotateResult, *Session, error) {
	sess, err := s.GetSession(ctx, id)
	if err != nil || sess == nil {
		return Invalid, nil, err
	}
	issuedUntil, err := s.refreshExpiry(ctx, sess, oldHash)
	if err != nil || !issuedUntil.After(now) {
		return Invalid, sess, err
	}
	use := refreshUse{ID: oldHash, Session: id, Next: newHash, NextExpiresAt: expiresAt, ExpiresAt: expiresAt}
	if err := s.ensureIndexes(ctx); err != nil {
		return Invalid, nil, err
	}
	if err := s.InsertOne(ctx, RefreshUsesCollection, use); err != nil {
		if !IsDuplicateKey(err) {
			return Invalid, nil, err
		}
		if err := s.RevokeSession(ctx, id); err != nil {
			return Invalid, nil, err
		}
		return Reused, sess, nil
	}
	// Keep the session until its newest token expires (best effort: a
	// concurrent revocation deleted it and this changes nothing then).
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err = s.db.Collection(SessionsCollection).UpdateOne(cctx, bson.D{{Key: fieldID, Value: id}},
		bson.D{{Key: opSet, Value: bson.D{{Key: "expiresAt", Value: expiresAt}}}})
	return Rotated, sess, wrap("extend session", err)
}

// refreshExpiry returns until when the token with hash h, issued for sess,
// is valid; zero when it was never issued for sess.
func (s *Store) refreshExpiry(ctx context.Context, sess *Session, h string) (time.Time, error) {
	if sess.RefreshHash == h {
		return sess.RefreshExpiresAt, nil
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var prev refreshUse
	err := s.db.Collection(RefreshUsesCollection).FindOne(ctx,
		bson.D{{Key: "next", Value: h}, {Key: "session", Value: sess.ID}}).Decode(&prev)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("find refresh token", err)
	}
	return prev.NextExpiresAt, nil
}

// RevokeSession ends a session (by deleting it); its tokens stop working.
func (s *Store) RevokeSession(ctx context.Context, id string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(SessionsCollection).DeleteOne(ctx, bson.D{{Key: fieldID, Value: id}})
	return wrap("revoke session", err)
}

// RevokeOrganizationSessions ends every session of an organization.
func (s *Store) RevokeOrganizationSessions(ctx context.Context, organization string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(SessionsCollection).DeleteMany(ctx, bson.D{{Key: fieldOrganization, Value: organization}})
	return wrap("revoke sessions of "+organization, err)
}

// DeleteExpiredSessions removes sessions, and records of used refresh
// tokens, that expired before cutoff.
func (s *Store) DeleteExpiredSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	expired := bson.D{{Key: "expiresAt", Value: bson.D{{Key: opLt, Value: cutoff}}}}
	res, err := s.db.Collection(SessionsCollection).DeleteMany(ctx, expired)
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	if _, err := s.db.Collection(RefreshUsesCollection).DeleteMany(ctx, expired); err != nil {
		return res.DeletedCount, wrap("delete expired refresh token uses", err)
	}
	return res.DeletedCount, nil
}
