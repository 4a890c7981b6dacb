package restapi

import (
	"testing"
	"time"
)

func TestLockedFor(t *testing.T) {
	p := LockoutPolicy{Threshold: 5, Base: time.Minute, Max: 15 * time.Minute}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {4, 0}, {5, time.Minute}, {6, 2 * time.Minute}, {7, 4 * time.Minute}, {8, 8 * time.Minute},
		{9, 15 * time.Minute}, {50, 15 * time.Minute},
	}
	for _, tt := range tests {
		if got := p.LockedFor(tt.failures); got != tt.want {
			t.Errorf("LockedFor(%d) = %s; want %s", tt.failures, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Signup = "maybe" },
		func(c *Config) { c.TLSCertFile = "cert.pem" },
		func(c *Config) { c.AccessTokenTTL = time.Second },
		func(c *Config) { c.RefreshTokenTTL = time.Minute },
		func(c *Config) { c.HashConcurrency = 0 },
		func(c *Config) { c.Lockout.Threshold = 0 },
		func(c *Config) { c.KeyRotation = time.Minute },
	}
	for i, mutate := range bad {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: invalid config accepted", i)
		}
	}
}

func TestIPLimiter(t *testing.T) {
	l := newLimiter(1, 2, 100)
	now := time.Unix(0, 0)
	if ok, _ := l.allow("a", now); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.allow("a", now); !ok {
		t.Fatal("burst of 2 refused")
	}
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 {
		t.Fatalf("third request: ok %v wait %s", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another address was limited")
	}
	if ok, _ := l.allow("a", now.Add(time.Second)); !ok {
		t.Fatal("no token after a second")
	}
}
