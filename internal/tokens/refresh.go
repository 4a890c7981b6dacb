package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// RefreshSecretBytes is the entropy of a refresh token's secret part (256 bits).
const RefreshSecretBytes = 32

// ErrMalformedRefresh is returned for a string that is not one of our refresh tokens.
var ErrMalformedRefresh = errors.New("refresh token is malformed")

// NewSessionID returns a random session (refresh-token family) id.
func NewSessionID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// NewRefreshToken returns an opaque refresh token "<sessionID>.<secret>" and
// the hash to store; the token itself is never stored.
func NewRefreshToken(sessionID string) (token, hash string, err error) {
	secret := make([]byte, RefreshSecretBytes)
	if _, err := rand.Read(secret); err != nil {
		return "", "", err
	}
	token = sessionID + "." + base64.RawURLEncoding.EncodeToString(secret)
	return token, HashRefreshToken(token), nil
}

// ParseRefreshToken returns the session id and the hash of a refresh token.
func ParseRefreshToken(token string) (sessionID, hash string, err error) {
	sid, secret, ok := strings.Cut(token, ".")
	if !ok || len(sid) != 32 || len(secret) < 43 {
		return "", "", ErrMalformedRefresh
	}
	if _, err := hex.DecodeString(sid); err != nil {
		return "", "", ErrMalformedRefresh
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", ErrMalformedRefresh
	}
	return sid, HashRefreshToken(token), nil
}

// HashRefreshToken is SHA-256: the token carries 256 random bits, so a slow
// hash adds nothing.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
