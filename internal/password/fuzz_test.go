package password

import (
	"errors"
	"testing"
)

// Any string as a stored hash: parsing never panics, a hash accepted as
// given is within the bounds, and verifying computes at most what MaxParams
// allows (a hash asking for more is refused, not computed).
func FuzzPHC(f *testing.F) {
	fast, _ := HashGenerated("a generated password of 32 chars")
	cheap, _ := Hash("pw", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	for _, h := range []string{"", "$", fast, cheap, "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdA$a2V5", "$sha256$v=1$$", "$sha256$v=1$!!$!!"} {
		f.Add(h, "pw")
	}
	f.Fuzz(func(t *testing.T, hash, pw string) {
		p, err := ParamsOf(hash)
		if err == nil && CheckGivenHash(hash, DefaultParams) == nil {
			if p.MemoryKiB > MaxParams.MemoryKiB || p.Iterations > MaxParams.Iterations || p.Parallelism < 1 {
				t.Fatalf("CheckGivenHash accepted %q with %+v", hash, p)
			}
		}
		if err == nil && uint64(p.MemoryKiB)*uint64(p.Iterations) > 4096 {
			// Within bounds but slow to compute: the refusal path is what
			// matters here; computing it is the unit tests' job.
			if p.MemoryKiB > MaxParams.MemoryKiB || p.Iterations > MaxParams.Iterations {
				if _, verr := Verify(pw, hash); !errors.Is(verr, ErrHashOutOfBounds) {
					t.Fatalf("Verify of %q: %v, want ErrHashOutOfBounds", hash, verr)
				}
			}
			return
		}
		_, _ = Verify(pw, hash)
	})
}

// A generated password's fast hash verifies that password and no other.
func FuzzFastHash(f *testing.F) {
	f.Add("a generated password of 32 chars", "x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pw, other string) {
		h, err := HashGenerated(pw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := Verify(pw, h); !ok || err != nil {
			t.Fatalf("Verify(%q, own hash) = %v, %v", pw, ok, err)
		}
		if ok, _ := Verify(other, h); ok != (other == pw) {
			t.Fatalf("Verify(%q, hash of %q) = %v", other, pw, ok)
		}
	})
}
