// Package tokens issues and verifies the REST API's credentials: EdDSA
// (Ed25519) access tokens (JWT, typ at+jwt) signed with a rotating key set,
// and opaque refresh tokens stored only as hashes.
package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// keyPrefix marks Secret data entries holding an Ed25519 seed.
const keyPrefix = "ed25519-"

// kidTimeLayout starts every key id, so ids sort by creation time.
const kidTimeLayout = "20060102T150405Z"

// Key is one signing key.
type Key struct {
	ID      string
	Created time.Time
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// KeySet is the set of keys: the newest signs, all verify.
type KeySet struct {
	keys []Key // oldest first
}

// ErrNoKeys is returned when a key set has no key to sign with.
var ErrNoKeys = errors.New("the signing key set is empty")

// NewKey creates a key whose id records its creation time.
func NewKey(now time.Time) (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, err
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return Key{}, err
	}
	now = now.UTC().Truncate(time.Second)
	return Key{ID: now.Format(kidTimeLayout) + "-" + hex.EncodeToString(suffix), Created: now, Private: priv, Public: pub}, nil
}

// DecodeKeySet reads keys from Secret data ("ed25519-<kid>" -> 32-byte seed).
// Malformed entries are reported, not skipped silently.
func DecodeKeySet(data map[string][]byte) (*KeySet, error) {
	ks := &KeySet{}
	for name, seed := range data {
		if !strings.HasPrefix(name, keyPrefix) {
			continue
		}
		kid := strings.TrimPrefix(name, keyPrefix)
		created, err := time.Parse(kidTimeLayout, strings.SplitN(kid, "-", 2)[0])
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing key %q is malformed", name)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		ks.keys = append(ks.keys, Key{ID: kid, Created: created, Private: priv, Public: priv.Public().(ed25519.PublicKey)})
	}
	ks.sort()
	return ks, nil
}

// Encode writes the key set as Secret data.
func (ks *KeySet) Encode() map[string][]byte {
	data := make(map[string][]byte, len(ks.keys))
	for _, k := range ks.keys {
		data[keyPrefix+k.ID] = k.Private.Seed()
	}
	return data
}

func (ks *KeySet) sort() {
	sort.Slice(ks.keys, func(i, j int) bool { return ks.keys[i].ID < ks.keys[j].ID })
}

// Len is the number of keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// Signing is the newest key.
func (ks *KeySet) Signing() (Key, error) {
	if len(ks.keys) == 0 {
		return Key{}, ErrNoKeys
	}
	return ks.keys[len(ks.keys)-1], nil
}

// Lookup finds a key by id.
func (ks *KeySet) Lookup(kid string) (Key, bool) {
	for _, k := range ks.keys {
		if k.ID == kid {
			return k, true
		}
	}
	return Key{}, false
}

// Rotate returns the key set to store at now, and whether it changed: a new
// key is added when there is none or the newest is older than rotation; a key
// is dropped once the key that replaced it has signed for longer than
// tokenLifetime (no token it signed can still be valid).
func (ks *KeySet) Rotate(now time.Time, rotation, tokenLifetime time.Duration) (*KeySet, bool, error) {
	next := &KeySet{keys: append([]Key(nil), ks.keys...)}
	changed := false
	if newest, err := next.Signing(); err != nil || now.Sub(newest.Created) >= rotation {
		k, err := NewKey(now)
		if err != nil {
			return nil, false, err
		}
		next.keys = append(next.keys, k)
		next.sort()
		changed = true
	}
	kept := next.keys[:0]
	for i, k := range next.keys {
		retiredAt := time.Time{}
		if i+1 < len(next.keys) {
			retiredAt = next.keys[i+1].Created
		}
		if !retiredAt.IsZero() && now.Sub(retiredAt) > tokenLifetime {
			changed = true
			continue
		}
		kept = append(kept, k)
	}
	next.keys = kept
	return next, changed, nil
}

// JWK is one public key in a JSON Web Key Set (RFC 8037 OKP).
type JWK struct {
	KeyType   string `json:"kty" enum:"OKP" doc:"Key type (OKP)"`
	Curve     string `json:"crv" enum:"Ed25519" doc:"Curve (Ed25519)"`
	X         string `json:"x" pattern:"^[A-Za-z0-9_-]{43}$" maxLength:"43" doc:"Public key, base64url"`
	KeyID     string `json:"kid" pattern:"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$" maxLength:"64" doc:"Key id, as in the tokens' kid header"`
	Algorithm string `json:"alg" enum:"EdDSA" doc:"Algorithm (EdDSA)"`
	Use       string `json:"use" enum:"sig" doc:"Public key use (sig)"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys" maxItems:"16" doc:"The public keys that verify access tokens (the current one and those retired within a token lifetime)"`
}

// JWKS returns the public half of every key.
func (ks *KeySet) JWKS() JWKS {
	out := JWKS{Keys: make([]JWK, 0, len(ks.keys))}
	for _, k := range ks.keys {
		out.Keys = append(out.Keys, JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public),
			KeyID: k.ID, Algorithm: "EdDSA", Use: "sig"})
	}
	return out
}
