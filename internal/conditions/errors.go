// Package conditions holds what the operator's controllers share about
// kstatus conditions: how an error is classified (as in Flux) and how a
// condition is written. Errors returned by a reconcile's steps are:
//   - a StallingError, which needs a human (a bad reference, a conflict):
//     Stalled=True, and no retry until something watched changes;
//   - a WaitingError, a dependency unavailable: Ready=False with the
//     dependency's reason, retried with exponential backoff;
//   - any other error, transient: retried with backoff.
package conditions

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// StallingError is an error that retrying cannot fix.
type StallingError struct {
	Reason  string
	Message string
}

func (e *StallingError) Error() string { return e.Reason + ": " + e.Message }

// Stalled is a StallingError with reason and a formatted message.
func Stalled(reason, format string, args ...any) error {
	return &StallingError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// WaitingError is an error caused by an unavailable dependency.
type WaitingError struct {
	Reason string
	Err    error
}

func (e *WaitingError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *WaitingError) Unwrap() error { return e.Err }

// ClassifyMongo turns a MongoDB connectivity failure into a WaitingError
// with reason MongoUnavailable; other errors pass through unchanged.
func ClassifyMongo(err error) error {
	if err != nil && mongostore.IsUnavailable(err) {
		return &WaitingError{Reason: tenancyv1alpha1.ReasonMongoUnavailable, Err: err}
	}
	return err
}

// AsStalling finds a StallingError in err's chain.
func AsStalling(err error) (*StallingError, bool) {
	var se *StallingError
	ok := errors.As(err, &se)
	return se, ok
}

// AsWaiting finds a WaitingError in err's chain.
func AsWaiting(err error) (*WaitingError, bool) {
	var we *WaitingError
	ok := errors.As(err, &we)
	return we, ok
}

// MaxMessage is the longest condition message written (longer ones are cut).
const MaxMessage = 1024

// Set writes one condition of an object of generation, its message cut to
// MaxMessage.
func Set(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            Truncate(message, MaxMessage),
		ObservedGeneration: generation,
	})
}

// Truncate cuts s to n bytes, ending in "..." when it was longer.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
