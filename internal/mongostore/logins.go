package mongostore

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// LoginAttemptsCollection counts failed logins per account, shared by replicas.
const LoginAttemptsCollection = "loginAttempts"

const fieldLastFailure = "lastFailure"

// LoginAttempts is the failed-login record of one account key (the
// normalized email, whether or not an admin has it, with a client network
// or for all networks together).
type LoginAttempts struct {
	Key string `bson:"_id"`
	// Account is the normalized email on a per-network record ("" on the
	// account-wide one): CountFailingNetworks counts these.
	Account     string    `bson:"account,omitempty"`
	Failures    int       `bson:"failures"`
	LastFailure time.Time `bson:"lastFailure"`
}

const fieldAccount = "account"

// GetLoginAttempts returns the record for key, or nil when there is none.
func (s *Store) GetLoginAttempts(ctx context.Context, key string) (*LoginAttempts, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	var la LoginAttempts
	err := s.db.Collection(LoginAttemptsCollection).FindOne(ctx, bson.D{{Key: fieldID, Value: key}}).Decode(&la)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("find login attempts", err)
	}
	return &la, nil
}

// RecordLoginFailure counts one failure for key and returns the new record.
// Failures older than window are forgotten first, so the count (and the
// lockout derived from it) decays. The increment is atomic across replicas.
// account, when set, marks a per-network record of that account.
func (s *Store) RecordLoginFailure(ctx context.Context, key, account string, now time.Time, window time.Duration) (*LoginAttempts, error) {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	coll := s.db.Collection(LoginAttemptsCollection)
	_, err := coll.UpdateOne(cctx, bson.D{{Key: fieldID, Value: key}, {Key: fieldLastFailure, Value: bson.D{{Key: opLt, Value: now.Add(-window)}}}},
		bson.D{{Key: opSet, Value: bson.D{{Key: "failures", Value: 0}}}})
	if err != nil {
		return nil, wrap("reset login attempts", err)
	}
	set := bson.D{{Key: fieldLastFailure, Value: now}}
	if account != "" {
		set = append(set, bson.E{Key: fieldAccount, Value: account})
	}
	var la LoginAttempts
	err = coll.FindOneAndUpdate(cctx, bson.D{{Key: fieldID, Value: key}},
		bson.D{{Key: opInc, Value: bson.D{{Key: "failures", Value: 1}}}, {Key: opSet, Value: set}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&la)
	if err != nil {
		return nil, wrap("record login failure", err)
	}
	return &la, nil
}

// CountFailingNetworks counts the client networks with a failure of
// account recorded at or after since.
func (s *Store) CountFailingNetworks(ctx context.Context, account string, since time.Time) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	n, err := s.db.Collection(LoginAttemptsCollection).CountDocuments(ctx, bson.D{{Key: fieldAccount, Value: account},
		{Key: fieldLastFailure, Value: bson.D{{Key: opGte, Value: since}}}})
	if err != nil {
		return 0, wrap("count failing networks", err)
	}
	return n, nil
}

// ResetLoginFailures forgets the failures of key (after a successful login).
func (s *Store) ResetLoginFailures(ctx context.Context, key string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(LoginAttemptsCollection).DeleteOne(ctx, bson.D{{Key: fieldID, Value: key}})
	return wrap("reset login attempts", err)
}

// DeleteStaleLoginAttempts removes records whose last failure is older than cutoff.
func (s *Store) DeleteStaleLoginAttempts(ctx context.Context, cutoff time.Time) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(LoginAttemptsCollection).DeleteMany(ctx,
		bson.D{{Key: fieldLastFailure, Value: bson.D{{Key: opLt, Value: cutoff}}}})
	if err != nil {
		return 0, wrap("delete stale login attempts", err)
	}
	return res.DeletedCount, nil
}
