package controller

import (
	"github.com/org-operator/org-operator/internal/conditions"
)

// Errors are classified as internal/conditions says (stalling, waiting,
// transient); these names keep the reconcile steps short.
type (
	stallingError = conditions.StallingError
	waitingError  = conditions.WaitingError
)

func stalled(reason, format string, args ...any) error {
	return conditions.Stalled(reason, format, args...)
}

func classifyMongo(err error) error { return conditions.ClassifyMongo(err) }

func asStalling(err error) (*stallingError, bool) { return conditions.AsStalling(err) }

func asWaiting(err error) (*waitingError, bool) { return conditions.AsWaiting(err) }
