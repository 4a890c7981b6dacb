package restapi

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/org-operator/org-operator/internal/password"
)

// checkCurrentPassword verifies the current password a change asks for
// (changing the password or the admin email, deleting the organization):
// a stolen access token alone cannot take the account over. Failures count
// towards the account's lockout like failed logins; verifying holds one of
// the process's hashing slots (429 when none is free).
func (s *Server) checkCurrentPassword(ctx context.Context, p *principal, current string) error {
	admin, err := s.currentAdmin(ctx, p)
	if err != nil {
		return err
	}
	email := admin.Email
	if _, err := s.checkLockout(ctx, email); err != nil {
		return err
	}
	release, ok := s.slots.TryAcquire()
	if !ok {
		return errBusyHashing()
	}
	match, _ := password.Verify(current, admin.PasswordHash)
	release()
	if !match {
		if err := s.recordFailure(ctx, email); err != nil {
			return err
		}
		return huma.Error403Forbidden("the current password is wrong")
	}
	return nil
}

func errBusyHashing() error {
	return errTooManyRequests("the server is busy verifying passwords; retry shortly", time.Second)
}
