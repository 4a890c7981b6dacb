// Package restapi is the tenant admins' REST API: log in (JWT access token and
// refresh token), read, update and delete their own organization, log out.
// It is served by every manager replica. Reads come from the manager's
// informer cache, writes go through the Kubernetes API (the master record),
// and sessions, revocations and failed-login counters live in MongoDB.
package restapi

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
)

// SignupMode says whether anyone may create an organization through the API.
type SignupMode string

const (
	// SignupDisabled answers 403 to POST /v1/organizations (the default).
	SignupDisabled SignupMode = "disabled"
	// SignupOpen lets anyone create an organization.
	SignupOpen SignupMode = "open"
)

// LockoutPolicy locks an account after repeated failed logins. Failures
// are counted per account and client network (an IPv4 address, an IPv6
// /64), so that somebody who knows an admin's email cannot lock the admin
// out from another network; a softer limit counts the account's failures
// from every network together.
type LockoutPolicy struct {
	// Threshold is the number of failures from one network that triggers
	// the first lock for that network.
	Threshold int
	// GlobalThreshold is the number of failures from all networks together
	// that locks the account everywhere (0: no global lock).
	GlobalThreshold int
	// GlobalNetworks is how many client networks must have failed within
	// Window for the global lock to hold: one network alone can never lock
	// the account everywhere, however long it keeps failing.
	GlobalNetworks int
	// Base is the first lock's duration; each further failure doubles it.
	Base time.Duration
	// Max caps a single lock.
	Max time.Duration
	// Window: failures older than this are forgotten.
	Window time.Duration
}

// LockedFor is how long an account with failures failed logins from one
// network stays locked there after its last failure: 0 below the threshold,
// then Base doubling per further failure, capped at Max.
func (p LockoutPolicy) LockedFor(failures int) time.Duration {
	return p.lockedFor(failures, p.Threshold)
}

// LockedEverywhereFor is LockedFor for the failures from all networks
// together, against GlobalThreshold.
func (p LockoutPolicy) LockedEverywhereFor(failures int) time.Duration {
	return p.lockedFor(failures, p.GlobalThreshold)
}

func (p LockoutPolicy) lockedFor(failures, threshold int) time.Duration {
	if threshold <= 0 || failures < threshold {
		return 0
	}
	d := p.Base
	for i := threshold; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Config configures the API server.
type Config struct {
	// BindAddress is host:port; "0" disables the API.
	BindAddress string
	// TLSCertFile and TLSKeyFile enable HTTPS when both are set.
	TLSCertFile string
	TLSKeyFile  string

	Signup SignupMode

	// Issuer and Audience are the access tokens' iss and aud.
	Issuer   string
	Audience string
	// AccessTokenTTL and RefreshTokenTTL are token lifetimes.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration

	// CredentialsNamespace holds the tenants' credentials Secrets.
	CredentialsNamespace string
	// SigningKeysNamespace and SigningKeysSecret name the Secret holding the
	// Ed25519 signing keys (in the operator's own namespace).
	SigningKeysNamespace string
	SigningKeysSecret    string
	// KeyRotation is how long a signing key signs before a new one replaces it.
	KeyRotation time.Duration

	// LoginRate and LoginBurst size the per-IP token bucket of the
	// unauthenticated endpoints (login, refresh, sign-up).
	LoginRate  float64
	LoginBurst int
	Lockout    LockoutPolicy
	// HashConcurrency caps concurrent password hashing; beyond it login
	// answers 429 with Retry-After.
	HashConcurrency int
	HashParams      password.Params
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For names the client; from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// MaxClients bounds the per-client rate limiter's memory (entries).
	MaxClients int
	// WriteRate and WriteBurst size the token bucket of each organization's
	// authenticated writes (PATCH, DELETE).
	WriteRate  float64
	WriteBurst int
	// SessionMaxAge ends a session, refreshed or not, this long after login.
	SessionMaxAge time.Duration
	// ClockSkew is how far apart the replicas' clocks may be when they
	// verify each other's tokens.
	ClockSkew time.Duration
	// SignupMaxPerHour and SignupMaxTotal cap the organizations created
	// through sign-up, across replicas (0: no cap).
	SignupMaxPerHour int
	SignupMaxTotal   int

	// ChangeTimeout bounds how long a write waits until it is in effect.
	ChangeTimeout time.Duration
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// CleanupInterval is how often expired sessions and stale login counters are removed.
	CleanupInterval time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		BindAddress:          ":8082",
		Signup:               SignupDisabled,
		Issuer:               "org-operator",
		Audience:             "org-operator-api",
		AccessTokenTTL:       15 * time.Minute,
		RefreshTokenTTL:      7 * 24 * time.Hour,
		CredentialsNamespace: tenancyv1alpha1.DefaultCredentialsNamespace,
		SigningKeysNamespace: tenancyv1alpha1.DefaultOperatorNamespace,
		SigningKeysSecret:    tenancyv1alpha1.DefaultSigningKeysSecret,
		KeyRotation:          7 * 24 * time.Hour,
		LoginRate:            1,
		LoginBurst:           10,
		Lockout:              LockoutPolicy{Threshold: 5, GlobalThreshold: 50, GlobalNetworks: 3, Base: time.Minute, Max: 15 * time.Minute, Window: time.Hour},
		HashConcurrency:      runtime.GOMAXPROCS(0),
		HashParams:           password.DefaultParams,
		MaxClients:           100000,
		WriteRate:            0.5,
		WriteBurst:           5,
		SessionMaxAge:        30 * 24 * time.Hour,
		ClockSkew:            30 * time.Second,
		SignupMaxPerHour:     60,
		SignupMaxTotal:       1000,
		ChangeTimeout:        15 * time.Second,
		MaxBodyBytes:         64 << 10,
		CleanupInterval:      5 * time.Minute,
	}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.Signup != SignupDisabled && c.Signup != SignupOpen:
		return fmt.Errorf("--signup must be %q or %q, got %q", SignupDisabled, SignupOpen, c.Signup)
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("--api-tls-cert-file and --api-tls-key-file must be set together")
	case c.AccessTokenTTL < time.Minute || c.RefreshTokenTTL < c.AccessTokenTTL:
		return errors.New("token lifetimes: access must be at least 1m and refresh at least as long as access")
	case c.KeyRotation < c.AccessTokenTTL:
		return errors.New("--api-signing-key-rotation must be at least the access token lifetime")
	case c.HashConcurrency < 1 || c.LoginBurst < 1 || c.LoginRate <= 0:
		return errors.New("--api-hash-concurrency, --api-login-burst and --api-login-rate must be positive")
	case c.Lockout.Threshold < 1 || c.Lockout.Base <= 0 || c.Lockout.Max < c.Lockout.Base:
		return errors.New("lockout: threshold must be >= 1 and 0 < base <= max")
	case c.Lockout.GlobalThreshold != 0 && c.Lockout.GlobalThreshold < c.Lockout.Threshold:
		return errors.New("--api-lockout-global-threshold must be 0 or at least --api-lockout-threshold")
	case c.Lockout.GlobalThreshold != 0 && c.Lockout.GlobalNetworks < 2:
		return errors.New("--api-lockout-global-networks must be at least 2: one network must never lock an account everywhere")
	case c.WriteRate <= 0 || c.WriteBurst < 1 || c.MaxClients < 1:
		return errors.New("--api-write-rate, --api-write-burst and the client limit must be positive")
	case c.SessionMaxAge < c.RefreshTokenTTL:
		return errors.New("--api-session-max-age must be at least the refresh token lifetime")
	case c.SignupMaxPerHour < 0 || c.SignupMaxTotal < 0:
		return errors.New("--signup-max-per-hour and --signup-max-total must not be negative")
	}
	return nil
}
