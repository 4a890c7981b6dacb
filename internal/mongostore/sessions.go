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
// _id): the unique _id makes "first use wins" atomic on MongoDB and on
// FerretDB alike, whose findAndModify is not atomic under concurrency.
const RefreshUsesCollection = "refreshTokenUses"

// Session is a login session of an admin. Only hashes of refresh tokens are stored.
type Session struct {
	ID           string `bson:"_id"`
	Organization string `bson:"organization"`
	AdminID      string `bson:"adminId"`
	// CredentialsVersion is the admin's credentialsVersion at login: a
	// password change ends the session.
	CredentialsVersion int64 `bson:"credentialsVersion"`
	// RefreshHash is the hash of the one refresh token that may be used next.
	RefreshHash string    `bson:"refreshHash"`
	CreatedAt   time.Time `bson:"createdAt"`
	// ExpiresAt is when the current refresh token expires; expired sessions
	// are removed by DeleteExpiredSessions (FerretDB has no TTL indexes).
	ExpiresAt    time.Time `bson:"expiresAt"`
	Revoked      bool      `bson:"revoked"`
	RevokedAt    time.Time `bson:"revokedAt,omitempty"`
	RevokeReason string    `bson:"revokeReason,omitempty"`
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
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(SessionsCollection).InsertOne(ctx, sess)
	return wrap("create session", err)
}

// GetSession returns a session, or nil when there is none.
func (s *Store) GetSession(ctx context.Context, id string) (*Session, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var sess Session
	err := s.db.Collection(SessionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sess)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("find session", err)
	}
	return &sess, nil
}

// RotateRefresh exchanges the refresh token with hash oldHash for newHash.
// The exchange first records the use of oldHash under a unique _id, so that
// of two concurrent exchanges of one token exactly one proceeds; the other,
// like any later presentation of a used token, is reuse: the whole session is
// revoked and Reused returned (RFC 9700 4.14.2). A token that is not the
// session's current one, or a revoked or expired session, is Invalid.
func (s *Store) RotateRefresh(ctx context.Context, id, oldHash, newHash string, now, expiresAt time.Time) (RotateResult, *Session, error) {
	if err := s.recordRefreshUse(ctx, id, oldHash, expiresAt); err != nil {
		if !IsDuplicateKey(err) {
			return Invalid, nil, err
		}
		sess, err := s.GetSession(ctx, id)
		if err != nil || sess == nil {
			return Invalid, nil, err
		}
		if err := s.RevokeSession(ctx, id, "refresh token reuse", now); err != nil {
			return Invalid, nil, err
		}
		return Reused, sess, nil
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	filter := bson.D{
		{Key: "_id", Value: id}, {Key: "refreshHash", Value: oldHash},
		{Key: "revoked", Value: false}, {Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}},
	}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "refreshHash", Value: newHash}, {Key: "expiresAt", Value: expiresAt}}}}
	res, err := s.db.Collection(SessionsCollection).UpdateOne(cctx, filter, update)
	if err != nil {
		return Invalid, nil, wrap("rotate refresh token", err)
	}
	sess, err := s.GetSession(ctx, id)
	if err != nil || sess == nil || res.ModifiedCount == 0 || sess.Revoked {
		return Invalid, sess, err
	}
	return Rotated, sess, nil
}

func (s *Store) recordRefreshUse(ctx context.Context, session, hash string, expiresAt time.Time) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(RefreshUsesCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: hash}, {Key: "session", Value: session}, {Key: "expiresAt", Value: expiresAt},
	})
	if IsDuplicateKey(err) {
		return err
	}
	return wrap("record refresh token use", err)
}

// RevokeSession marks a session revoked; its tokens stop working.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(SessionsCollection).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "revoked", Value: false}}, revokeUpdate(reason, now))
	return wrap("revoke session", err)
}

// RevokeOrganizationSessions revokes every session of an organization.
func (s *Store) RevokeOrganizationSessions(ctx context.Context, organization, reason string, now time.Time) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(SessionsCollection).UpdateMany(ctx,
		bson.D{{Key: "organization", Value: organization}, {Key: "revoked", Value: false}}, revokeUpdate(reason, now))
	return wrap("revoke sessions of "+organization, err)
}

func revokeUpdate(reason string, now time.Time) bson.D {
	return bson.D{{Key: "$set", Value: bson.D{
		{Key: "revoked", Value: true}, {Key: "revokedAt", Value: now}, {Key: "revokeReason", Value: reason},
	}}}
}

// DeleteExpiredSessions removes sessions, and records of used refresh
// tokens, that expired before cutoff (callers pass now minus the access-token
// lifetime, so that a revoked session outlives every access token it issued).
func (s *Store) DeleteExpiredSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	expired := bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: cutoff}}}}
	res, err := s.db.Collection(SessionsCollection).DeleteMany(ctx, expired)
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	if _, err := s.db.Collection(RefreshUsesCollection).DeleteMany(ctx, expired); err != nil {
		return res.DeletedCount, wrap("delete expired refresh token uses", err)
	}
	return res.DeletedCount, nil
}
