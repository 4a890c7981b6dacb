// Package clients runs real MongoDB clients the way an application team
// would: mongosh, the npm package pinned in hack/clients (make clients).
// It is test support.
package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// ErrNoMongosh is returned when mongosh is not installed in hack/clients.
var ErrNoMongosh = errors.New("mongosh is not installed: run `make clients` (npm ci in hack/clients)")

// Mongosh runs mongosh --quiet uri --eval script (within 60 s) and returns
// what it printed. A non-zero exit is an error carrying the output.
func Mongosh(ctx context.Context, uri, script string) (string, error) {
	bin := filepath.Join(controlplane.RepoRoot(), "hack", "clients", "node_modules", ".bin", "mongosh")
	if _, err := os.Stat(bin); err != nil {
		return "", ErrNoMongosh
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--quiet", "--norc", uri, "--eval", script)
	// No history, no telemetry, no config file of the person running the tests.
	cmd.Env = append(os.Environ(), "HOME="+os.TempDir(), "MONGOSH_NO_UPDATE_CHECK=1", "DO_NOT_TRACK=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("mongosh: %w: %s", err, out.String())
	}
	return out.String(), nil
}
