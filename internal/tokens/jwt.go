package tokens

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenType is the JWT "typ" header of access tokens (RFC 9068).
const TokenType = "at+jwt"

// Claims of an access token.
type Claims struct {
	// Organization is the organization the token acts for.
	Organization string `json:"org"`
	// CredentialsVersion is the admin's credentialsVersion at issue time.
	CredentialsVersion int64 `json:"ver"`
	// SessionID names the login session (the refresh-token family).
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// Errors returned by Verify. They are safe to log; their text is not sent
// to clients, who get one generic 401.
var (
	ErrMalformed     = errors.New("token is malformed")
	ErrBadSignature  = errors.New("token signature, algorithm or key is not accepted")
	ErrUnknownKey    = errors.New("token key id is unknown")
	ErrWrongType     = errors.New("token type is not at+jwt")
	ErrWrongIssuer   = errors.New("token issuer or audience is not accepted")
	ErrExpired       = errors.New("token is expired or not valid yet")
	ErrMissingClaims = errors.New("token lacks required claims")
)

// Issuer signs and verifies access tokens.
type Issuer struct {
	Issuer   string
	Audience string
	TTL      time.Duration
	// Leeway is the clock skew between replicas that Verify tolerates on
	// exp, nbf and iat.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Issue signs an access token with the set's newest key. It returns the token
// and its lifetime.
func (i *Issuer) Issue(ks *KeySet, subject, organization, sessionID string, version int64) (string, time.Duration, error) {
	key, err := ks.Signing()
	if err != nil {
		return "", 0, err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", 0, err
	}
	now := i.now().UTC().Truncate(time.Second)
	claims := Claims{
		Organization: organization, CredentialsVersion: version, SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: i.Issuer, Audience: jwt.ClaimStrings{i.Audience}, Subject: subject, ID: hex.EncodeToString(jti),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(i.TTL)),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = key.ID
	t.Header["typ"] = TokenType
	signed, err := t.SignedString(key.Private)
	return signed, i.TTL, err
}

// Verify checks a token: the algorithm is pinned to EdDSA, the key is looked
// up by kid in our own key set only, typ must be at+jwt, iss and aud must be
// ours, exp and nbf must hold, and sub, org, sid, jti must be present.
func (i *Issuer) Verify(ks *KeySet, token string) (*Claims, error) {
	claims := &Claims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(i.Issuer), jwt.WithAudience(i.Audience),
		jwt.WithExpirationRequired(), jwt.WithNotBeforeRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(i.now), jwt.WithStrictDecoding(), jwt.WithLeeway(i.Leeway),
	)
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != TokenType {
			return nil, ErrWrongType
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := ks.Lookup(kid)
		if !ok {
			return nil, ErrUnknownKey
		}
		return key.Public, nil
	})
	if err != nil {
		return nil, classify(err)
	}
	if claims.Subject == "" || claims.Organization == "" || claims.SessionID == "" || claims.ID == "" {
		return nil, ErrMissingClaims
	}
	return claims, nil
}

func classify(err error) error {
	for _, known := range []error{ErrWrongType, ErrUnknownKey} {
		if errors.Is(err, known) {
			return known
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrWrongIssuer
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return ErrMissingClaims
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	default:
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
}
