package restapi

import (
	"errors"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// kubeError maps a Kubernetes API error to a problem: validation failures are
// the client's 400, conflicts 409, a missing object 404; anything else is
// logged and answered 503 (the apiserver is unreachable or refused us).
func (s *Server) kubeError(err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return huma.Error400BadRequest(fmt.Sprintf("rejected by the Organization schema: %s", apiMessage(err)))
	case apierrors.IsConflict(err):
		return huma.Error409Conflict("the organization changed concurrently; retry")
	case apierrors.IsNotFound(err):
		return errOrgNotFound()
	default:
		s.log.Error(err, "Kubernetes API call failed")
		return errUnavailable()
	}
}

// apiMessage is the apiserver's own message for err (for example the CRD's
// CEL rule message), without the client library's prefix.
func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Message
	}
	return err.Error()
}
