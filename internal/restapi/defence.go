package restapi

import (
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientNetwork is who a request comes from, as the defences count it: the
// client's IPv4 address, or its IPv6 /64 (one host usually holds a whole
// /64, so counting single IPv6 addresses would let it rotate freely). The
// client is the TCP peer unless that peer is a trusted proxy: then it is the
// right-most address of X-Forwarded-For that is not itself a trusted proxy.
func clientNetwork(remoteAddr, forwardedFor string, trusted []netip.Prefix) string {
	addr, ok := parseAddr(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if isTrusted(addr, trusted) && forwardedFor != "" {
		hops := strings.Split(forwardedFor, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break // a malformed hop: keep the last trusted view
			}
			addr = hop
			if !isTrusted(hop, trusted) {
				break
			}
		}
	}
	return networkOf(addr)
}

func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// networkOf is an IPv4 address, or the /64 of an IPv6 address.
func networkOf(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// limiter is a token bucket per key (a client network, an organization),
// holding at most max keys, so its memory is bounded whatever the number of
// clients: buckets idle for longer than idleAfter are forgotten, and when
// the limit is reached, first every bucket that has refilled (it behaves
// exactly like a new one), then the older half.
type limiter struct {
	mu        sync.Mutex
	rate      rate.Limit
	burst     int
	max       int
	buckets   map[string]*bucket
	idleAfter time.Duration
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

func newLimiter(perSecond float64, burst, maxKeys int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, max: maxKeys, buckets: map[string]*bucket{}, idleAfter: 10 * time.Minute}
}

// allow takes a token for key; when none is left it returns false and how
// long until the next one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	q := l.take(key, now)
	return q.allowed, q.retryAfter
}

// take takes a token for key and returns the bucket's state afterwards.
func (l *limiter) take(key string, now time.Time) quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		l.makeRoom(now)
		b = &bucket{limiter: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	q := quota{allowed: true, limit: l.burst}
	r := b.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		q.allowed, q.retryAfter = false, delay
	}
	tokens := b.limiter.TokensAt(now)
	q.remaining = max(0, int(math.Floor(tokens)))
	q.reset = time.Duration((float64(l.burst) - tokens) / float64(l.rate) * float64(time.Second))
	return q
}

// makeRoom forgets idle buckets now and then; at the limit it forgets the
// refilled ones, and if that is not enough the older half (each sweep is one
// pass and frees at least half, so the cost per request stays constant).
func (l *limiter) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) > l.idleAfter || len(l.buckets) >= l.max {
		for k, b := range l.buckets {
			if now.Sub(b.lastSeen) > l.idleAfter || b.limiter.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	if len(l.buckets) < l.max {
		return
	}
	first, last := now, time.Time{}
	for _, b := range l.buckets {
		if b.lastSeen.Before(first) {
			first = b.lastSeen
		}
		if b.lastSeen.After(last) {
			last = b.lastSeen
		}
	}
	cutoff := first.Add(last.Sub(first) / 2)
	for k, b := range l.buckets {
		if !b.lastSeen.After(cutoff) {
			delete(l.buckets, k)
		}
	}
}

// size is the number of keys held (for tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
