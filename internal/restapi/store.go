package restapi

import (
	"context"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

// Store is the API's MongoDB side; *mongostore.Store implements it.
type Store interface {
	Ping(ctx context.Context) error
	GetAdmin(ctx context.Context, organization string) (*mongostore.Admin, error)
	GetAdminByEmail(ctx context.Context, email string) (*mongostore.Admin, error)
	CheckEmailFree(ctx context.Context, email, organization string) error

	CreateSession(ctx context.Context, s mongostore.Session) error
	GetSession(ctx context.Context, id string) (*mongostore.Session, error)
	RotateRefresh(ctx context.Context, id, oldHash, newHash string, now, expiresAt time.Time) (mongostore.RotateResult, *mongostore.Session, error)
	RevokeSession(ctx context.Context, id string) error
	RevokeOrganizationSessions(ctx context.Context, organization string) error
	DeleteExpiredSessions(ctx context.Context, cutoff time.Time) (int64, error)

	GetLoginAttempts(ctx context.Context, key string) (*mongostore.LoginAttempts, error)
	RecordLoginFailure(ctx context.Context, key, account string, now time.Time, window time.Duration) (*mongostore.LoginAttempts, error)
	CountFailingNetworks(ctx context.Context, account string, since time.Time) (int64, error)
	ResetLoginFailures(ctx context.Context, key string) error
	DeleteStaleLoginAttempts(ctx context.Context, cutoff time.Time) (int64, error)

	RecordSignup(ctx context.Context, organization string, at time.Time) (string, error)
	SignupsSince(ctx context.Context, since time.Time) (int, time.Time, error)
	ForgetSignup(ctx context.Context, id string) error
	DeleteSignupsBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

var _ Store = (*mongostore.Store)(nil)
