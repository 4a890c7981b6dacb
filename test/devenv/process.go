package devenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child process with its own process group, killed with the
// parent (Pdeathsig) so that no orphan survives a crash of the dev tool.
type process struct {
	cmd     *exec.Cmd
	done    chan error
	logPath string
	log     *os.File
}

func startProcess(bin string, args, env []string, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1), logPath: logPath, log: log}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop sends sig and waits; after grace it kills the process group.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	defer p.log.Close()
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case err := <-p.done:
		return exitErr(err, sig)
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return exitErr(<-p.done, syscall.SIGKILL)
	}
}

// exitErr ignores the exit caused by the signal we sent.
func exitErr(err error, sig syscall.Signal) error {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == sig {
			return nil
		}
	}
	return err
}

// pidOfChild finds a direct child process of this process by command name.
func pidOfChild(name string) int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeIdx < 0 {
			continue
		}
		fields := strings.Fields(s[closeIdx+1:])
		if len(fields) > 1 && s[open+1:closeIdx] == name && fields[1] == strconv.Itoa(self) {
			return pid
		}
	}
	return 0
}
