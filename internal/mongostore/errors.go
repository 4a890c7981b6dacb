package mongostore

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Named errors returned by the store.
var (
	// ErrUnavailable marks an error caused by the server being unreachable or
	// too slow: the caller should retry later with backoff.
	ErrUnavailable = errors.New("MongoDB is unavailable")
	// ErrEmailInUse is returned when an admin email already belongs to another
	// organization.
	ErrEmailInUse = errors.New("admin email is already used by another organization")
	// ErrAdminExists is returned by CreateAdmin when the organization already
	// has an admin record.
	ErrAdminExists = errors.New("the organization already has an admin record")
	// ErrAdminNotFound is returned by UpdateAdmin when the record is gone.
	ErrAdminNotFound = errors.New("the admin record does not exist")
)

// codeNamespaceExists is MongoDB's error code for creating an existing collection.
const codeNamespaceExists = 48

// wrap annotates err with the operation and marks connectivity failures with
// ErrUnavailable so callers can classify them with errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// IsUnavailable reports whether err means MongoDB could not be reached in time.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || isUnavailable(err)
}

func isUnavailable(err error) bool {
	var sse topology.ServerSelectionError
	return errors.As(err, &sse) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err)
}

// IsDuplicateKey reports whether err is a unique-index violation as reported
// by MongoDB (E11000 and friends).
func IsDuplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err)
}

func hasCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}
