// Package managerproc runs the manager binary as its own process, as a
// Deployment runs it, for the development environment, the end-to-end,
// chaos and HA suites and the benchmarks: each on free loopback ports,
// waited for until /readyz answers 200. (internal/testsupport/testenv runs
// the same wiring in-process instead.)
package managerproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/org-operator/org-operator/internal/devenv/proc"
)

// Options says how to run the manager.
type Options struct {
	// Binary is the manager executable (bin/manager).
	Binary string
	// Kubeconfig and MongoURI connect it (KUBECONFIG, MONGODB_URI).
	Kubeconfig string
	MongoURI   string
	// LogPath receives its output.
	LogPath string
	// API serves the REST API on APIPort (0: a free port) when set; without
	// it the API is off.
	API     bool
	APIPort int
	// Metrics serves metrics on a free port when set: plain HTTP, or with
	// SecureMetrics as deployed (HTTPS, a bearer token checked with a
	// TokenReview and a SubjectAccessReview).
	Metrics       bool
	SecureMetrics bool
	// Args are further flags (they win over the defaults above, coming last).
	Args []string
	// Env is added to the process's environment (HOME and PATH are passed on).
	Env []string
	// ReadyTimeout bounds the wait for /readyz; default 60 s.
	ReadyTimeout time.Duration
}

// Process is a running manager.
type Process struct {
	*proc.Process
	// APIURL, ProbeURL and MetricsURL are the base URLs it serves ("" when off).
	APIURL, ProbeURL, MetricsURL string
}

// Start runs the manager and waits until it is ready; it fails (and leaves
// nothing running) if the manager exits first or is not ready in time.
func Start(ctx context.Context, o Options) (*Process, error) {
	probe, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	p := &Process{ProbeURL: fmt.Sprintf("http://127.0.0.1:%d", probe)}
	args := []string{"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(probe)}
	if o.API {
		port := o.APIPort
		if port == 0 {
			if port, err = proc.FreePort(); err != nil {
				return nil, err
			}
		}
		p.APIURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		args = append(args, "--api-bind-address=127.0.0.1:"+strconv.Itoa(port))
	} else {
		args = append(args, "--api-bind-address=0")
	}
	if o.Metrics {
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		scheme := "http"
		if o.SecureMetrics {
			scheme = "https"
		}
		p.MetricsURL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
		args = append(args, "--metrics-bind-address=127.0.0.1:"+strconv.Itoa(port), "--metrics-secure="+strconv.FormatBool(o.SecureMetrics))
	} else {
		args = append(args, "--metrics-bind-address=0")
	}
	args = append(args, o.Args...)
	env := append([]string{"KUBECONFIG=" + o.Kubeconfig, "MONGODB_URI=" + o.MongoURI, "HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH")}, o.Env...)
	if p.Process, err = proc.Start(o.Binary, args, env, o.LogPath, nil); err != nil {
		return nil, err
	}
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if err := proc.WaitHTTP(ctx, p.ProbeURL+"/readyz", p.Process, timeout); err != nil {
		return nil, fmt.Errorf("the manager: %w", errors.Join(err, p.Stop(syscall.SIGKILL, 5*time.Second)))
	}
	if p.MetricsURL != "" {
		// Readiness can come before the metrics server listens (a
		// self-signed certificate is made first).
		addr := strings.TrimPrefix(strings.TrimPrefix(p.MetricsURL, "https://"), "http://")
		if err := proc.WaitTCP(ctx, addr, p.Process, timeout); err != nil {
			return nil, fmt.Errorf("the manager's metrics: %w", errors.Join(err, p.Stop(syscall.SIGKILL, 5*time.Second)))
		}
	}
	return p, nil
}
