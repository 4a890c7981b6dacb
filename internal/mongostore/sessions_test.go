//go:build integration

package mongostore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/org-operator/org-operator/internal/mongostore"
)

func TestRotateRefresh(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, mongostore.Options{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	week := now.Add(7 * 24 * time.Hour)
	sess := mongostore.Session{ID: "s1", Organization: "acme", AdminID: "a", RefreshHash: "h0", ExpiresAt: week, CreatedAt: now}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if res, _, err := s.RotateRefresh(ctx, "s1", "never-issued", "x", now, week); err != nil || res != mongostore.Invalid {
		t.Fatalf("never issued: %v %v", res, err)
	}
	if res, _, err := s.RotateRefresh(ctx, "s1", "h0", "h1", now, week); err != nil || res != mongostore.Rotated {
		t.Fatalf("first use: %v %v", res, err)
	}
	if res, _, err := s.RotateRefresh(ctx, "s1", "h1", "h2", now, week); err != nil || res != mongostore.Rotated {
		t.Fatalf("second token: %v %v", res, err)
	}
	if res, _, err := s.RotateRefresh(ctx, "s1", "h1", "h3", now, week); err != nil || res != mongostore.Reused {
		t.Fatalf("reuse of h1: %v %v", res, err)
	}
	if sess, _ := s.GetSession(ctx, "s1"); sess != nil {
		t.Fatal("reuse did not revoke the session")
	}
	if res, _, _ := s.RotateRefresh(ctx, "s1", "h2", "h4", now, week); res != mongostore.Invalid {
		t.Fatalf("the newest token of a revoked session: %v", res)
	}

	// An expired token is invalid and is not recorded as used.
	if err := s.CreateSession(ctx, mongostore.Session{ID: "s2", Organization: "acme", RefreshHash: "e0", ExpiresAt: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if res, _, _ := s.RotateRefresh(ctx, "s2", "e0", "e1", now, week); res != mongostore.Invalid {
		t.Fatalf("expired token: %v", res)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v", n, err)
	}
}

func TestConcurrentRotationHasOneWinner(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, mongostore.Options{})
	now := time.Now().UTC()
	week := now.Add(time.Hour)
	for round := range 5 {
		id := "c" + string(rune('a'+round))
		first := id + "-t0" // token hashes are unique (SHA-256 of 256 random bits)
		if err := s.CreateSession(ctx, mongostore.Session{ID: id, Organization: "acme", RefreshHash: first, ExpiresAt: week}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]mongostore.RotateResult, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], _, _ = s.RotateRefresh(ctx, id, first, id+"-t1-"+string(rune('a'+i)), now, week)
			}()
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			if r == mongostore.Rotated {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners (%v)", round, won, results)
		}
	}
}
