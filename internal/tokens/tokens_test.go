package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestRotate(t *testing.T) {
	const rotation, lifetime = 24 * time.Hour, 15 * time.Minute
	empty := &KeySet{}
	ks, changed, err := empty.Rotate(t0, rotation, lifetime)
	if err != nil || !changed || ks.Len() != 1 {
		t.Fatalf("first rotation: len %d, changed %v, err %v", ks.Len(), changed, err)
	}
	first, _ := ks.Signing()

	if _, changed, _ := ks.Rotate(t0.Add(time.Hour), rotation, lifetime); changed {
		t.Fatal("rotated before the rotation period")
	}
	ks2, changed, _ := ks.Rotate(t0.Add(rotation), rotation, lifetime)
	if !changed || ks2.Len() != 2 {
		t.Fatalf("rotation due: len %d, changed %v", ks2.Len(), changed)
	}
	second, _ := ks2.Signing()
	if second.ID == first.ID {
		t.Fatal("the new key does not sign")
	}
	if _, ok := ks2.Lookup(first.ID); !ok {
		t.Fatal("the retired key must keep verifying")
	}
	ks3, changed, _ := ks2.Rotate(t0.Add(rotation+lifetime+time.Second), rotation, lifetime)
	if !changed || ks3.Len() != 1 {
		t.Fatalf("retired key not dropped after the token lifetime: len %d", ks3.Len())
	}
	if _, ok := ks3.Lookup(first.ID); ok {
		t.Fatal("the retired key survived")
	}

	decoded, err := DecodeKeySet(ks2.Encode())
	if err != nil || decoded.Len() != 2 {
		t.Fatalf("round trip: %v, len %d", err, decoded.Len())
	}
	if s, _ := decoded.Signing(); s.ID != second.ID {
		t.Fatal("round trip changed the signing key")
	}
	if _, err := DecodeKeySet(map[string][]byte{"ed25519-bad": []byte("short")}); err == nil {
		t.Fatal("a malformed key was accepted")
	}
}

func TestIssueAndVerify(t *testing.T) {
	ks, _, _ := (&KeySet{}).Rotate(t0, time.Hour, time.Minute)
	now := t0
	iss := &Issuer{Issuer: "org-operator", Audience: "api", TTL: 15 * time.Minute, Now: func() time.Time { return now }}
	tok, ttl, err := iss.Issue(ks, "admin-1", "acme", "0123456789abcdef0123456789abcdef", 3)
	if err != nil || ttl != 15*time.Minute {
		t.Fatal(err)
	}
	c, err := iss.Verify(ks, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "admin-1" || c.Organization != "acme" || c.CredentialsVersion != 3 || c.ID == "" {
		t.Fatalf("claims = %+v", c)
	}
	key, _ := ks.Signing()
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	claims := jwt.MapClaims{"iss": "org-operator", "aud": "api", "sub": "admin-1", "org": "acme", "sid": "s", "jti": "j",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "ver": 3}
	sign := func(m jwt.SigningMethod, k any, header map[string]any, mutate func(jwt.MapClaims)) string {
		cl := jwt.MapClaims{}
		for k, v := range claims {
			cl[k] = v
		}
		mutate(cl)
		tk := jwt.NewWithClaims(m, cl)
		for k, v := range header {
			tk.Header[k] = v
		}
		s, err := tk.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ours := map[string]any{"kid": key.ID, "typ": TokenType}
	none := func(jwt.MapClaims) {}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid forged with our key", sign(jwt.SigningMethodEdDSA, key.Private, ours, none), nil},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ours, none), ErrBadSignature},
		{"HS256 with the public key", sign(jwt.SigningMethodHS256, []byte(key.Public), ours, none), ErrBadSignature},
		{"unknown kid", sign(jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": "x", "typ": TokenType}, none), ErrUnknownKey},
		{"our kid, other key", sign(jwt.SigningMethodEdDSA, otherKey, ours, none), ErrBadSignature},
		{"wrong typ", sign(jwt.SigningMethodEdDSA, key.Private, map[string]any{"kid": key.ID, "typ": "JWT"}, none), ErrWrongType},
		{"wrong iss", sign(jwt.SigningMethodEdDSA, key.Private, ours, func(c jwt.MapClaims) { c["iss"] = "x" }), ErrWrongIssuer},
		{"wrong aud", sign(jwt.SigningMethodEdDSA, key.Private, ours, func(c jwt.MapClaims) { c["aud"] = "x" }), ErrWrongIssuer},
		{"expired", sign(jwt.SigningMethodEdDSA, key.Private, ours, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), ErrExpired},
		{"not yet valid", sign(jwt.SigningMethodEdDSA, key.Private, ours, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), ErrExpired},
		{"no exp", sign(jwt.SigningMethodEdDSA, key.Private, ours, func(c jwt.MapClaims) { delete(c, "exp") }), ErrMissingClaims},
		{"no sid", sign(jwt.SigningMethodEdDSA, key.Private, ours, func(c jwt.MapClaims) { delete(c, "sid") }), ErrMissingClaims},
		{"tampered payload, original signature", tamper(t, tok), ErrBadSignature},
		{"garbage", "a.b.c", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iss.Verify(ks, tt.token)
			bothNil := tt.want == nil && err == nil
			if !bothNil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v; want %v", err, tt.want)
			}
		})
	}
}

// tamper changes the organization claim and keeps the original signature.
func tamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(payload), `"org":"acme"`, `"org":"evil"`, 1)
	if changed == string(payload) {
		t.Fatalf("payload %s has no org claim to tamper with", payload)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(changed)) + "." + parts[2]
}

func TestRefreshTokens(t *testing.T) {
	sid, err := NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	tok, hash, err := NewRefreshToken(sid)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hash, tok) || len(tok) < 32+1+43 {
		t.Fatalf("token %q hash %q", tok, hash)
	}
	gotSID, gotHash, err := ParseRefreshToken(tok)
	if err != nil || gotSID != sid || gotHash != hash {
		t.Fatalf("parse = %q %q %v", gotSID, gotHash, err)
	}
	for _, bad := range []string{"", "x", sid, sid + ".", "zz" + tok[2:], sid + ".!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, _, err := ParseRefreshToken(bad); err == nil {
			t.Errorf("ParseRefreshToken(%q) accepted", bad)
		}
	}
}

// TestVerifyToleratesClockSkewBetweenReplicas: a token issued by a replica
// whose clock runs up to Leeway ahead is accepted; further ahead it is not.
func TestVerifyToleratesClockSkewBetweenReplicas(t *testing.T) {
	now := time.Now()
	ks, _, err := (&KeySet{}).Rotate(now, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ahead time.Duration
		ok    bool
	}{{20 * time.Second, true}, {29 * time.Second, true}, {45 * time.Second, false}} {
		issuer := &Issuer{Issuer: "i", Audience: "a", TTL: time.Minute, Now: func() time.Time { return now.Add(tt.ahead) }}
		token, _, err := issuer.Issue(ks, "sub", "org", "sid", 1)
		if err != nil {
			t.Fatal(err)
		}
		verifier := &Issuer{Issuer: "i", Audience: "a", TTL: time.Minute, Leeway: 30 * time.Second, Now: func() time.Time { return now }}
		if _, err := verifier.Verify(ks, token); (err == nil) != tt.ok {
			t.Errorf("issuer %s ahead: Verify = %v; want ok %v", tt.ahead, err, tt.ok)
		}
	}
}
