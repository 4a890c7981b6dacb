package password

import (
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
