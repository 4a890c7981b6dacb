package main

import (
	"fmt"
	"runtime/debug"
	"strconv"
)

// memoryLimitShare is the part of the container's memory limit the Go
// runtime aims to stay under: the rest is for memory the Go heap does not
// account (stacks, the runtime, argon2id's buffers between collections).
const memoryLimitShare = 0.9

// applyMemoryLimit sets the Go runtime's soft memory limit to 90% of the
// container's limit, which the Deployment passes in MEMORY_LIMIT (bytes,
// from the downward API), unless GOMEMLIMIT is set (the runtime then already
// follows it). It returns the limit it set, 0 when it set none.
func applyMemoryLimit(getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" || getenv("MEMORY_LIMIT") == "" {
		return 0, nil
	}
	limit, err := strconv.ParseInt(getenv("MEMORY_LIMIT"), 10, 64)
	if err != nil || limit <= 0 {
		return 0, fmt.Errorf("MEMORY_LIMIT must be a positive number of bytes, got %q", getenv("MEMORY_LIMIT"))
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
