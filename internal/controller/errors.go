package controller

import (
	"errors"
	"fmt"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Errors returned by the reconcile steps are classified, as in Flux:
//   - a stallingError needs a human (bad reference, conflict): the
//     Organization gets Stalled=True and is not retried until something it
//     watches changes;
//   - a waitingError means a dependency is unavailable: Ready=False with the
//     dependency's reason, retried with exponential backoff;
//   - any other error is transient: retried with backoff.

// stallingError is an error that retrying cannot fix.
type stallingError struct {
	reason  string
	message string
}

func (e *stallingError) Error() string { return e.reason + ": " + e.message }

func stalled(reason, format string, args ...any) error {
	return &stallingError{reason: reason, message: fmt.Sprintf(format, args...)}
}

// waitingError is an error caused by an unavailable dependency.
type waitingError struct {
	reason string
	err    error
}

func (e *waitingError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *waitingError) Unwrap() error { return e.err }

// classifyMongo turns a MongoDB connectivity failure into a waitingError with
// reason MongoUnavailable; other errors pass through unchanged.
func classifyMongo(err error) error {
	if err != nil && mongostore.IsUnavailable(err) {
		return &waitingError{reason: tenancyv1alpha1.ReasonMongoUnavailable, err: err}
	}
	return err
}

func asStalling(err error) (*stallingError, bool) {
	var se *stallingError
	ok := errors.As(err, &se)
	return se, ok
}

func asWaiting(err error) (*waitingError, bool) {
	var we *waitingError
	ok := errors.As(err, &we)
	return we, ok
}
