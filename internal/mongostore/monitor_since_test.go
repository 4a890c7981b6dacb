package mongostore

import (
	"context"
	"maps"
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"
)

// Since counts only what was sent after the snapshot, and leaves out
// commands not sent since.
func TestCommandCounterSince(t *testing.T) {
	c := NewCommandCounter()
	send := func(names ...string) {
		for _, n := range names {
			c.Monitor().Started(context.Background(), &event.CommandStartedEvent{CommandName: n})
		}
	}
	send("find", "insert")
	before := c.Snapshot()
	send("find", "find", "listCollections")
	want := map[string]int64{"find": 2, "listCollections": 1}
	if got := c.Since(before); !maps.Equal(got, want) {
		t.Fatalf("Since = %v, want %v", got, want)
	}
	if got := c.Since(c.Snapshot()); len(got) != 0 {
		t.Fatalf("Since(now) = %v, want nothing", got)
	}
}
