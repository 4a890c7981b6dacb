package devenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/org-operator/org-operator/internal/devenv/proc"
)

// Control-plane processes RestartControlPlane can kill and start again.
const (
	KubeAPIServer = "kube-apiserver"
	Etcd          = "etcd"
)

// RestartControlPlane kills one control-plane process (KubeAPIServer or
// Etcd) with SIGKILL, starts it again with the same binary, arguments,
// certificates and data directory, and waits until the apiserver answers
// /readyz again. The etcd data and the apiserver's certificates are kept,
// so kubeconfigs stay valid. It returns the time the component was away.
func (e *Env) RestartControlPlane(ctx context.Context, component string) (time.Duration, error) {
	pid, err := e.controlPlanePID(component)
	if err != nil {
		return 0, err
	}
	bin, args, err := proc.CommandLine(pid)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if p := e.restarted[component]; p != nil {
		_ = p.Stop(syscall.SIGKILL, 15*time.Second) // a crash: its exit status is the signal
	} else if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, err
	}
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		return !proc.Alive(pid), nil
	}); err != nil {
		return 0, fmt.Errorf("%s (pid %d) did not exit after SIGKILL: %w", component, pid, err)
	}
	logPath := filepath.Join(e.opts.StateDir, component+".log")
	if e.restarted == nil {
		e.restarted = map[string]*proc.Process{}
	}
	for attempt := 1; ; attempt++ {
		logged := logSize(logPath)
		p, err := proc.Start(bin, args, os.Environ(), logPath, nil)
		if err != nil {
			return 0, err
		}
		e.restarted[component] = p
		e.logf("restarted %s (pid %d, log %s)", component, p.Pid(), logPath)
		err = e.waitAPIServerReady(ctx, p)
		// The killed process's port can be taken for a moment by another
		// process's outgoing connection (ephemeral ports share the range
		// envtest picks from): start again, as a supervisor would.
		if err == nil || attempt == maxPortAttempts || !portTaken(logPath, logged) {
			return time.Since(start), err
		}
		e.logf("%s could not listen (address already in use); starting it again", component)
		time.Sleep(500 * time.Millisecond)
	}
}

// maxPortAttempts bounds the starts of a restarted component whose port is taken.
const maxPortAttempts = 20

// logSize is the size of the log at path (0 when absent).
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// portTaken reports whether the log, past offset, says the listen failed
// because the address is in use.
func portTaken(path string, offset int64) bool {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return false
	}
	return strings.Contains(string(data[offset:]), "address already in use")
}

// controlPlanePID is the live pid of component: the restarted process, or
// the one envtest started below this process.
func (e *Env) controlPlanePID(component string) (int, error) {
	if p := e.restarted[component]; p != nil {
		return p.Pid(), nil
	}
	for _, pid := range proc.Descendants(os.Getpid()) {
		if proc.Name(pid) == component {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no %s process below pid %d", component, os.Getpid())
}

// waitAPIServerReady polls the apiserver's /readyz (which includes etcd).
func (e *Env) waitAPIServerReady(ctx context.Context, p *proc.Process) error {
	cs, err := kubernetes.NewForConfig(e.cp.Config)
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if exited, err := p.Exited(); exited {
			return false, fmt.Errorf("%s exited after the restart (%v); see %s", p.Cmd.Path, err, p.LogPath)
		}
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}
