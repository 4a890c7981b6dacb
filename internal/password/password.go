// Package password generates admin passwords and hashes them, stored as PHC
// strings. A password chosen by a person is hashed with argon2id
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash): memory-hard, because such a
// password may be guessable. A password the operator generated itself
// carries 190 random bits, which no hash needs to slow down: it is hashed
// with salted SHA-256 ($sha256$v=1$salt$hash), about a thousand times
// cheaper, so creating many organizations is not bound by hashing. Verify
// accepts both forms.
package password

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	// MemoryKiB is the memory cost in KiB.
	MemoryKiB uint32
	// Iterations is the time cost.
	Iterations uint32
	// Parallelism is the number of lanes.
	Parallelism uint8
	// SaltLength and KeyLength are in bytes.
	SaltLength uint32
	KeyLength  uint32
}

// DefaultParams are OWASP's minimum recommendation for argon2id (19 MiB,
// t=2, p=1), with a 16-byte salt and a 32-byte key.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// GeneratedLength is the length of generated passwords: 32 characters from a
// 62-symbol alphabet carry about 190 bits of entropy.
const GeneratedLength = 32

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// ErrMalformedHash is returned by Verify for a string that is not one of our PHC hashes.
var ErrMalformedHash = errors.New("password hash is not an argon2id or sha256 PHC string")

// Generate returns a random password drawn from crypto/rand without modulo bias.
func Generate() (string, error) {
	out := make([]byte, 0, GeneratedLength)
	buf := make([]byte, GeneratedLength*2)
	// 62 symbols: accept bytes < 248 (= 4*62) so every symbol is equally likely.
	for len(out) < GeneratedLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < GeneratedLength {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// Hash hashes password with argon2id under p and a fresh random salt.
func Hash(password string, p Params) (string, error) {
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLength)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// fastPrefix starts the PHC string of a generated password's hash.
const fastPrefix = "$sha256$v=1$"

// HashGenerated hashes a password the operator generated (Generate): salted
// SHA-256. Never use it for a password a person chose.
func HashGenerated(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	b64 := base64.RawStdEncoding
	return fastPrefix + b64.EncodeToString(salt) + "$" + b64.EncodeToString(sha256Key(password, salt)), nil
}

func sha256Key(password string, salt []byte) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(password))
	return h.Sum(nil)
}

// Digest identifies a password the operator generated, so that it can tell
// later whether a Secret still holds that password (hex SHA-256; the
// password's 190 random bits make it irreversible).
func Digest(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

// Costly reports whether verifying against hash is an argon2id computation
// (and must then hold a Slots slot); false for a generated password's hash.
func Costly(hash string) bool { return !strings.HasPrefix(hash, fastPrefix) }

// Verify reports whether password matches the PHC hash (argon2id or a
// generated password's SHA-256), comparing in constant time. A malformed
// hash returns ErrMalformedHash; one whose cost exceeds MaxParams returns
// ErrHashOutOfBounds without being computed.
func Verify(password, hash string) (bool, error) {
	if rest, ok := strings.CutPrefix(hash, fastPrefix); ok {
		return verifyFast(password, rest)
	}
	p, salt, key, err := decode(hash)
	if err != nil {
		return false, err
	}
	if p.MemoryKiB > MaxParams.MemoryKiB || p.Iterations > MaxParams.Iterations || p.Parallelism > MaxParams.Parallelism ||
		p.KeyLength > MaxParams.KeyLength {
		// Never compute what a hash asks beyond the bounds: a corrupted or
		// planted record must not exhaust memory (FuzzPHC keeps such a seed).
		return false, ErrHashOutOfBounds
	}
	other := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	return subtle.ConstantTimeCompare(key, other) == 1, nil
}

func verifyFast(password, rest string) (bool, error) {
	saltB64, keyB64, ok := strings.Cut(rest, "$")
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(saltB64)
	key, err2 := b64.DecodeString(keyB64)
	if !ok || err1 != nil || err2 != nil || len(salt) == 0 || len(key) != sha256.Size {
		return false, ErrMalformedHash
	}
	return subtle.ConstantTimeCompare(key, sha256Key(password, salt)) == 1, nil
}

// Slots bounds the argon2id computations a process runs at once. Each takes
// Params.MemoryKiB of memory, so n slots bound that memory at n times it,
// whoever asks: the controller waits for a slot, the REST API answers 429
// when none is free.
type Slots chan struct{}

// NewSlots returns n slots (at least one).
func NewSlots(n int) Slots { return make(Slots, max(n, 1)) }

// Acquire waits for a slot; call release when the computation is done.
func (s Slots) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TryAcquire takes a slot if one is free, without waiting.
func (s Slots) TryAcquire() (release func(), ok bool) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	default:
		return nil, false
	}
}

// MaxParams are the most expensive argon2id parameters a hash given to the
// operator (rather than computed by it) may carry: verifying it at login
// costs what they say, so a hash beyond them would let its author make
// every login of that account cost 64 MiB or more of memory.
var MaxParams = Params{MemoryKiB: 64 * 1024, Iterations: 10, Parallelism: 4, SaltLength: 64, KeyLength: 64}

// ErrHashOutOfBounds is returned by CheckGivenHash.
var ErrHashOutOfBounds = errors.New("password hash parameters are outside the accepted bounds")

// CheckGivenHash accepts an argon2id PHC hash handed to the operator (by the
// REST API, or a platform's Secret) when its cost parameters (memory,
// iterations, parallelism) are exactly want, the operator's own, with a salt
// of 16 to MaxParams.SaltLength bytes and a key of 32 to MaxParams.KeyLength
// bytes. Any other cost would tell the account apart at login: the login of
// an unknown email verifies a dummy hash of the operator's own cost, so a
// costlier or cheaper hash answers in a measurably different time (and a
// costlier one takes more memory than a hashing slot assumes).
func CheckGivenHash(hash string, want Params) error {
	p, err := ParamsOf(hash)
	if err != nil {
		return err
	}
	switch {
	case p.MemoryKiB != want.MemoryKiB || p.Iterations != want.Iterations || p.Parallelism != want.Parallelism,
		p.SaltLength < 16 || p.SaltLength > MaxParams.SaltLength || p.KeyLength < 32 || p.KeyLength > MaxParams.KeyLength:
		return fmt.Errorf("%w: m=%d KiB, t=%d, p=%d, salt %d, key %d bytes (accepted: exactly m=%d KiB, t=%d, p=%d, the cost of every "+
			"other login, with a salt of 16..%d and a key of 32..%d bytes)",
			ErrHashOutOfBounds, p.MemoryKiB, p.Iterations, p.Parallelism, p.SaltLength, p.KeyLength,
			want.MemoryKiB, want.Iterations, want.Parallelism, MaxParams.SaltLength, MaxParams.KeyLength)
	}
	return nil
}

// ParamsOf returns the cost parameters recorded in a PHC hash.
func ParamsOf(hash string) (Params, error) {
	p, _, _, err := decode(hash)
	return p, err
}

func decode(hash string) (Params, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
