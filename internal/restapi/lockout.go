package restapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Failed password checks (a login, or the current password a change asks
// for) are counted in MongoDB, shared by every replica, twice: per account
// and client network, and per account from all networks together. The
// account is locked for a network once that network's count reaches
// --api-lockout-threshold, and everywhere once the total reaches the softer
// --api-lockout-global-threshold while at least
// --api-lockout-global-networks networks failed within the window:
// somebody who knows an admin's email and guesses from one network locks
// only that network out, however long they keep at it.

// lockoutKeys are the counter keys of an account from a client network and
// from everywhere.
func lockoutKeys(email, network string) (here, everywhere string) {
	return email + " " + network, email + " *"
}

// clientNetworkOf is the client network the request came from.
func clientNetworkOf(ctx context.Context) string {
	network, _ := ctx.Value(clientNetworkKey).(string)
	return network
}

// checkLockout refuses a locked account before any password work (429 with
// Retry-After). It reports whether failures are recorded for the account
// from this network, which a success then forgets.
func (s *Server) checkLockout(ctx context.Context, email string) (failed bool, err error) {
	here, everywhere := lockoutKeys(email, clientNetworkOf(ctx))
	now := s.now()
	local, err := s.store.GetLoginAttempts(ctx, here)
	if err != nil {
		return false, s.storeError(err)
	}
	global, err := s.store.GetLoginAttempts(ctx, everywhere)
	if err != nil {
		return false, s.storeError(err)
	}
	var wait time.Duration
	if local != nil {
		wait = max(wait, local.LastFailure.Add(s.cfg.Lockout.LockedFor(local.Failures)).Sub(now))
	}
	if global != nil {
		if everywhere := global.LastFailure.Add(s.cfg.Lockout.LockedEverywhereFor(global.Failures)).Sub(now); everywhere > wait {
			spread, err := s.failedFromSeveralNetworks(ctx, email, now)
			if err != nil {
				return false, err
			}
			if spread {
				wait = everywhere
			}
		}
	}
	if wait > 0 {
		s.metrics.logins.WithLabelValues(loginLocked).Inc()
		return false, errTooManyRequests("too many failed logins for this account; retry later", wait)
	}
	return local != nil, nil
}

// recordFailure counts a failed password check of the account, from this
// network and from everywhere, and logs every lockout it causes.
func (s *Server) recordFailure(ctx context.Context, email string) error {
	network := clientNetworkOf(ctx)
	here, everywhere := lockoutKeys(email, network)
	now := s.now()
	local, err := s.store.RecordLoginFailure(ctx, here, email, now, s.cfg.Lockout.Window)
	if err != nil {
		return s.storeError(err)
	}
	global, err := s.store.RecordLoginFailure(ctx, everywhere, "", now, s.cfg.Lockout.Window)
	if err != nil {
		return s.storeError(err)
	}
	if d := s.cfg.Lockout.LockedFor(local.Failures); d > 0 {
		s.log.Info("account locked for a client network after failed password checks", "account", accountRef(email),
			"clientNetwork", network, "failures", local.Failures, "lockedFor", d.String())
	}
	if d := s.cfg.Lockout.LockedEverywhereFor(global.Failures); d > 0 {
		spread, err := s.failedFromSeveralNetworks(ctx, email, now)
		if err != nil {
			return err
		}
		if spread {
			s.log.Info("account locked everywhere after failed password checks from several networks", "account", accountRef(email),
				"failures", global.Failures, "lockedFor", d.String())
		}
	}
	return nil
}

// failedFromSeveralNetworks reports whether failures of the account came
// from at least --api-lockout-global-networks client networks within the
// lockout window (a count asked of MongoDB only once the account-wide
// threshold is passed).
func (s *Server) failedFromSeveralNetworks(ctx context.Context, email string, now time.Time) (bool, error) {
	n, err := s.store.CountFailingNetworks(ctx, email, now.Add(-s.cfg.Lockout.Window))
	if err != nil {
		return false, s.storeError(err)
	}
	return n >= int64(s.cfg.Lockout.GlobalNetworks), nil
}

// forgetFailures forgets the account's failures from this network after a
// success (the account-wide count decays with --api-lockout window).
func (s *Server) forgetFailures(ctx context.Context, email string) error {
	here, _ := lockoutKeys(email, clientNetworkOf(ctx))
	if err := s.store.ResetLoginFailures(ctx, here); err != nil {
		return s.storeError(err)
	}
	return nil
}

// accountRef identifies an account in logs without writing the email.
func accountRef(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:6])
}
