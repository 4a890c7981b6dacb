package password

import (
	"context"
	"strings"
	"testing"
)

func TestGenerateIsLongRandomAndFromAlphabet(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != GeneratedLength {
			t.Fatalf("length %d, want %d", len(p), GeneratedLength)
		}
		if strings.Trim(p, alphabet) != "" {
			t.Fatalf("password %q has characters outside the alphabet", p)
		}
		if seen[p] {
			t.Fatalf("password repeated: %q", p)
		}
		seen[p] = true
	}
}

func TestHashAndVerify(t *testing.T) {
	fast := Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	h, err := Hash("correct horse battery staple", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected PHC prefix: %s", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	h2, _ := Hash("correct horse battery staple", fast)
	if h == h2 {
		t.Fatal("two hashes of the same password are equal: salt is not random")
	}
	tests := []struct {
		name     string
		password string
		hash     string
		want     bool
		wantErr  bool
	}{
		{"right password", "correct horse battery staple", h, true, false},
		{"wrong password", "correct horse battery stapl", h, false, false},
		{"empty password", "", h, false, false},
		{"not a PHC string", "x", "plain", false, true},
		{"bcrypt string", "x", "$2a$10$abcdefghijklmnopqrstuv", false, true},
		{"wrong version", "x", strings.Replace(h, "v=19", "v=16", 1), false, true},
		{"bad salt", "x", strings.Replace(h, "$m=64,t=1,p=1$", "$m=64,t=1,p=1$!!$", 1), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(tt.password, tt.hash)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDefaultParamsMeetOWASP(t *testing.T) {
	h, err := Hash("a password of reasonable length", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParamsOf(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.MemoryKiB < 19*1024 || p.Iterations < 2 || p.Parallelism < 1 {
		t.Fatalf("parameters below OWASP minimum: %+v", p)
	}
	ok, err := Verify("a password of reasonable length", h)
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func TestGeneratedPasswordHash(t *testing.T) {
	pw, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashGenerated(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$sha256$v=1$") || strings.Contains(h, pw) {
		t.Fatalf("unexpected hash %q", h)
	}
	if Costly(h) {
		t.Fatal("a generated password's hash reported as costly")
	}
	if h2, _ := HashGenerated(pw); h2 == h {
		t.Fatal("two hashes of the same password are equal: salt is not random")
	}
	for _, tt := range []struct {
		password, hash string
		want, wantErr  bool
	}{
		{pw, h, true, false},
		{pw + "x", h, false, false},
		{"", h, false, false},
		{pw, "$sha256$v=1$", false, true},
		{pw, "$sha256$v=1$c2FsdA$c2hvcnQ", false, true},
		{pw, strings.Replace(h, "$sha256$v=1$", "$sha256$v=1$!", 1), false, true},
	} {
		got, err := Verify(tt.password, tt.hash)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Verify(%q, %q) = %v, %v; want %v, err %v", tt.password, tt.hash, got, err, tt.want, tt.wantErr)
		}
	}
	argon, _ := Hash(pw, Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if !Costly(argon) {
		t.Fatal("an argon2id hash reported as cheap")
	}
}

func TestSlotsBoundConcurrentWork(t *testing.T) {
	s := NewSlots(1)
	release, ok := s.TryAcquire()
	if !ok {
		t.Fatal("first slot refused")
	}
	if _, ok := s.TryAcquire(); ok {
		t.Fatal("acquired beyond the bound")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Acquire(ctx); err == nil {
		t.Fatal("Acquire did not give up when its context ended")
	}
	release()
	r2, err := s.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2()
}

// BenchmarkHash compares the two hashes: the ratio is what creating an
// organization with a generated password saves.
func BenchmarkHash(b *testing.B) {
	b.Run("argon2id-default", func(b *testing.B) {
		for b.Loop() {
			_, _ = Hash("a generated password of 32 chars", DefaultParams)
		}
	})
	b.Run("sha256-generated", func(b *testing.B) {
		for b.Loop() {
			_, _ = HashGenerated("a generated password of 32 chars")
		}
	})
}

func TestCheckGivenHash(t *testing.T) {
	ok, _ := Hash("a chosen password", DefaultParams)
	if err := CheckGivenHash(ok, DefaultParams); err != nil {
		t.Fatalf("a hash with the operator's own parameters was refused: %v", err)
	}
	generated, _ := HashGenerated("x")
	cheap, _ := Hash("x", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	greedy := strings.Replace(ok, "m=19456", "m=4194304", 1) // 4 GiB per verification
	slow := strings.Replace(ok, "t=2", "t=1000", 1)
	// Within what a verification may cost, but not the operator's cost: the
	// login time would tell these accounts apart from unknown emails.
	costlier := strings.Replace(ok, "m=19456", "m=32768", 1)
	slower := strings.Replace(ok, "t=2", "t=3", 1)
	wider := strings.Replace(ok, "p=1", "p=2", 1)
	for name, h := range map[string]string{"fast hash": generated, "too cheap": cheap, "4 GiB": greedy, "t=1000": slow, "garbage": "x",
		"32 MiB": costlier, "t=3": slower, "p=2": wider} {
		if err := CheckGivenHash(h, DefaultParams); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
