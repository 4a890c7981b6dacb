package check

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The operator's own records, decoded here from what MongoDB holds (field
// names as stored), not through internal/mongostore's types.

// Admin is an organization's admin record.
type Admin struct {
	ID                     string `bson:"_id"`
	Organization           string `bson:"organization"`
	Email                  string `bson:"email"`
	PasswordHash           string `bson:"passwordHash"`
	CredentialsVersion     int64  `bson:"credentialsVersion"`
	CredentialsFingerprint string `bson:"credentialsFingerprint"`
}

// Admin returns the admin record of organization, nil when there is none;
// more than one is an error.
func (m *Mongo) Admin(ctx context.Context, organization string) (*Admin, error) {
	var records []Admin
	if err := m.Decode(ctx, "admins", bson.D{{Key: "organization", Value: organization}}, &records); err != nil {
		return nil, err
	}
	switch len(records) {
	case 0:
		return nil, nil
	case 1:
		return &records[0], nil
	}
	return nil, fmt.Errorf("%d admin records for organization %s", len(records), organization)
}

// LedgerEntry is an entry of the ownership ledger.
type LedgerEntry struct {
	Key        string     `bson:"_id"`
	Collection string     `bson:"collection"`
	Filter     string     `bson:"filter"`
	Name       string     `bson:"name"`
	UID        string     `bson:"uid"`
	Cluster    string     `bson:"cluster"`
	State      string     `bson:"state"`
	RetainedAt *time.Time `bson:"retainedAt"`
}

// LedgerEntry returns the entry with key (a dedicated collection's name, or
// <collection>/<organization> in a shared collection), nil when none.
func (m *Mongo) LedgerEntry(ctx context.Context, key string) (*LedgerEntry, error) {
	var entries []LedgerEntry
	if err := m.Decode(ctx, "tenants", bson.D{{Key: "_id", Value: key}}, &entries); err != nil || len(entries) == 0 {
		return nil, err
	}
	return &entries[0], nil
}
