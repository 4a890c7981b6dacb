package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Users lists the MongoDB users of the database whose names start with
// prefix (usersInfo), sorted.
func (m *Mongo) Users(ctx context.Context, prefix string) ([]string, error) {
	var out struct {
		Users []struct {
			User string `bson:"user"`
		} `bson:"users"`
	}
	if err := m.db.RunCommand(ctx, bson.D{{Key: "usersInfo", Value: 1}}).Decode(&out); err != nil {
		return nil, err
	}
	var names []string
	for _, u := range out.Users {
		if strings.HasPrefix(u.User, prefix) {
			names = append(names, u.User)
		}
	}
	slices.Sort(names)
	return names, nil
}

// ErrRefused marks credentials the server did not accept.
var ErrRefused = errors.New("the server refused the credentials")

// Authenticates connects with uri, as an application does with its
// connection Secret, on a fresh connection (no pooled session survives
// from earlier), and reads from collection: nil when the credentials are
// accepted; ErrRefused (wrapped) when the server refused them.
func Authenticates(ctx context.Context, uri, database, collection string) error {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(3 * time.Second).
		SetAppName("org-operator-checker-app").SetMaxPoolSize(1))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = c.Database(database).Collection(collection).FindOne(ctx, bson.D{}).Err()
	if err == nil || errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if strings.Contains(err.Error(), "Authentication failed") || strings.Contains(err.Error(), "AuthenticationFailed") {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}
