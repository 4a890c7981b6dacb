package mongostore

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// SignupsCollection records every self-service sign-up (one document each,
// shared by the replicas), so the hourly sign-up cap counts the
// organizations created in the last hour, including those deleted since:
// signing up and deleting in a loop cannot get past it.
const SignupsCollection = "signups"

const fieldAt = "at"

// signup is one recorded sign-up.
type signup struct {
	ID           string    `bson:"_id"`
	Organization string    `bson:"organization"`
	At           time.Time `bson:"at"`
}

// RecordSignup records a sign-up of organization at the time at and returns
// its id (for ForgetSignup).
func (s *Store) RecordSignup(ctx context.Context, organization string, at time.Time) (string, error) {
	id := uuid.NewString()
	if err := s.InsertOne(ctx, SignupsCollection, signup{ID: id, Organization: organization, At: at}); err != nil {
		return "", err
	}
	return id, nil
}

// SignupsSince counts the sign-ups recorded at or after since, and returns
// the time of the oldest of them (zero when there are none).
func (s *Store) SignupsSince(ctx context.Context, since time.Time) (int, time.Time, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	cur, err := s.db.Collection(SignupsCollection).Find(ctx, bson.D{{Key: fieldAt, Value: bson.D{{Key: opGte, Value: since}}}},
		options.Find().SetProjection(bson.D{{Key: fieldAt, Value: 1}}).SetSort(bson.D{{Key: fieldAt, Value: 1}}))
	if err != nil {
		return 0, time.Time{}, wrap("find sign-ups", err)
	}
	var found []signup
	if err := cur.All(ctx, &found); err != nil {
		return 0, time.Time{}, wrap("read sign-ups", err)
	}
	if len(found) == 0 {
		return 0, time.Time{}, nil
	}
	return len(found), found[0].At, nil
}

// ForgetSignup removes a recorded sign-up that did not create an organization.
func (s *Store) ForgetSignup(ctx context.Context, id string) error {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	_, err := s.db.Collection(SignupsCollection).DeleteOne(ctx, bson.D{{Key: fieldID, Value: id}})
	return wrap("forget sign-up", err)
}

// DeleteSignupsBefore removes the sign-ups recorded before cutoff (housekeeping).
func (s *Store) DeleteSignupsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	res, err := s.db.Collection(SignupsCollection).DeleteMany(ctx, bson.D{{Key: fieldAt, Value: bson.D{{Key: opLt, Value: cutoff}}}})
	if err != nil {
		return 0, wrap("delete old sign-ups", err)
	}
	return res.DeletedCount, nil
}
