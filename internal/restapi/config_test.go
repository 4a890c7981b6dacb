package restapi

import (
	"fmt"
	"net/netip"
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
		func(c *Config) { c.Lockout.GlobalNetworks = 1 },
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

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(1, 1, 1000)
	now := time.Unix(0, 0)
	for i := range 100000 { // a flood from 100,000 networks
		l.allow(fmt.Sprintf("net-%d", i), now.Add(time.Duration(i)*time.Microsecond))
		if l.size() > 1000 {
			t.Fatalf("%d keys held after %d clients; the limit is 1000", l.size(), i+1)
		}
	}
	// A client that is being limited stays limited while the flood goes on.
	l = newLimiter(1, 1, 10)
	if ok, _ := l.allow("victim", now); !ok {
		t.Fatal("first request refused")
	}
	for i := range 100 {
		l.allow(fmt.Sprintf("net-%d", i), now)
	}
	if ok, _ := l.allow("victim", now); ok && l.size() > 10 {
		t.Fatal("bound not kept")
	}
}

func TestClientNetwork(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"192.0.2.7:5000", "", nil, "192.0.2.7"},
		{"192.0.2.7:5000", "203.0.113.9", nil, "192.0.2.7"},                    // not behind a trusted proxy: header ignored
		{"10.1.2.3:5000", "203.0.113.9", proxies, "203.0.113.9"},               // behind one: the client it names
		{"10.1.2.3:5000", "198.51.100.1, 203.0.113.9", proxies, "203.0.113.9"}, // right-most untrusted hop, not the spoofable left
		{"10.1.2.3:5000", "203.0.113.9, 10.9.9.9", proxies, "203.0.113.9"},     // through two trusted proxies
		{"10.1.2.3:5000", "not-an-ip", proxies, "10.1.2.3"},
		{"[2001:db8:1:2:aaaa::1]:5000", "", nil, "2001:db8:1:2::/64"}, // IPv6 counted by /64
		{"[2001:db8:1:2:bbbb::9]:5000", "", nil, "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:5000", "", nil, "192.0.2.7"},
	} {
		if got := clientNetwork(tt.remote, tt.xff, tt.trusted); got != tt.want {
			t.Errorf("clientNetwork(%q, %q) = %q; want %q", tt.remote, tt.xff, got, tt.want)
		}
	}
}
