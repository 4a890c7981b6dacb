package proc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// WaitTCP waits until addr accepts TCP connections, p (when not nil)
// exits, ctx ends or timeout passes.
func WaitTCP(ctx context.Context, addr string, p *Process, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		if err := p.exitedEarly(); err != nil {
			return false, err
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		return true, conn.Close()
	})
	if wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("%s does not accept connections after %s%s", addr, timeout, p.logHint())
	}
	return err
}

// WaitHTTP polls url until it answers 200, p (when not nil) exits, ctx
// ends or timeout passes.
func WaitHTTP(ctx context.Context, url string, p *Process, timeout time.Duration) error {
	c := &http.Client{Timeout: 3 * time.Second}
	last := "no answer"
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := p.exitedEarly(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := c.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		_ = resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("%s is not ready after %s (last: %s)%s", url, timeout, last, p.logHint())
	}
	return err
}

// exitedEarly is an error when p (not nil) has exited.
func (p *Process) exitedEarly() error {
	if p == nil {
		return nil
	}
	if exited, err := p.Exited(); exited {
		return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Cmd.Path, err, p.LogPath)
	}
	return nil
}

func (p *Process) logHint() string {
	if p == nil {
		return ""
	}
	return "; see " + p.LogPath
}

// MustFreePort is FreePort for tests and tools, which cannot go on without
// one: it panics when no port can be had.
func MustFreePort() int {
	port, err := FreePort()
	if err != nil {
		panic(err)
	}
	return port
}
