package tokens

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// fuzzIssuer and fuzzKeys sign the seed tokens of the fuzz targets.
func fuzzKit(t testing.TB) (*Issuer, *KeySet, string) {
	ks, _, err := (&KeySet{}).Rotate(t0, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{Issuer: "org-operator", Audience: "api", TTL: 15 * time.Minute, Now: func() time.Time { return t0 }}
	tok, _, err := iss.Issue(ks, "admin-1", "acme", "0123456789abcdef0123456789abcdef", 1)
	if err != nil {
		t.Fatal(err)
	}
	return iss, ks, tok
}

// Random strings never panic and never verify.
func FuzzVerifyRandom(f *testing.F) {
	_, _, tok := fuzzKit(f)
	for _, s := range []string{"", ".", "..", "a.b.c", tok[:len(tok)-1], strings.ToUpper(tok), "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	iss, ks, _ := fuzzKit(f)
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := iss.Verify(ks, s); err == nil {
			t.Fatalf("a token nobody signed verified: %q -> %+v", s, c)
		}
	})
}

// A valid token with any byte changed (or cut, or extended) never verifies,
// except when the change leaves the token as it was.
func FuzzVerifyMutated(f *testing.F) {
	f.Add(uint16(0), byte('x'), uint8(0))
	f.Add(uint16(40), byte('A'), uint8(1))
	f.Add(uint16(200), byte('.'), uint8(2))
	iss, ks, tok := fuzzKit(f)
	f.Fuzz(func(t *testing.T, at uint16, b byte, op uint8) {
		i := int(at) % len(tok)
		var mutated string
		switch op % 3 {
		case 0:
			mutated = tok[:i] + string([]byte{b}) + tok[i+1:]
		case 1:
			mutated = tok[:i]
		default:
			mutated = tok[:i] + string([]byte{b}) + tok[i:]
		}
		if mutated == tok {
			return
		}
		if _, err := iss.Verify(ks, mutated); err == nil {
			// base64url's last character may carry unused bits: a change
			// there decodes to the same bytes, the same signed token.
			if canonical(t, mutated) == canonical(t, tok) {
				return
			}
			t.Fatalf("a mutated token verified: %q", mutated)
		}
	})
}

// canonical is the token's three parts decoded (what the signature covers).
func canonical(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tok
	}
	var out []string
	for _, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return tok
		}
		out = append(out, string(b))
	}
	return strings.Join(out, "|")
}

// Any string parses as a refresh token only in our format, and then maps to
// its session id and the hash we store.
func FuzzParseRefreshToken(f *testing.F) {
	sid, _ := NewSessionID()
	good, _, _ := NewRefreshToken(sid)
	for _, s := range []string{"", ".", good, sid + ".", "zz" + good[2:], good + "=", strings.Replace(good, ".", "..", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, hash, err := ParseRefreshToken(s)
		if err != nil {
			return
		}
		if len(id) != 32 || !strings.HasPrefix(s, id+".") || hash != HashRefreshToken(s) {
			t.Fatalf("ParseRefreshToken(%q) = %q, %q", s, id, hash)
		}
	})
}
