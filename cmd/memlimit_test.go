package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	set, err := applyMemoryLimit(env(map[string]string{"MEMORY_LIMIT": "536870912"}))
	if err != nil || set != 483183820 {
		t.Fatalf("applyMemoryLimit = %d, %v; want 90%% of 512 MiB", set, err)
	}
	if got := debug.SetMemoryLimit(-1); got != set {
		t.Fatalf("runtime limit %d; want %d", got, set)
	}
	if set, err := applyMemoryLimit(env(map[string]string{"MEMORY_LIMIT": "536870912", "GOMEMLIMIT": "100MiB"})); set != 0 || err != nil {
		t.Fatalf("an explicit GOMEMLIMIT was overridden: %d, %v", set, err)
	}
	if set, err := applyMemoryLimit(env(nil)); set != 0 || err != nil {
		t.Fatalf("no limit given, yet %d, %v", set, err)
	}
	if _, err := applyMemoryLimit(env(map[string]string{"MEMORY_LIMIT": "lots"})); err == nil {
		t.Fatal("a malformed MEMORY_LIMIT was accepted")
	}
}
