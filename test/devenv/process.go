package devenv

import (
	"errors"
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
func (p *process) stop(sig syscall.Signal, grace time.Duration) (err error) {
	defer func() { err = errors.Join(err, p.log.Close()) }()
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

// Descendants lists the live (non-zombie) processes below pid, read from /proc.
func Descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, ppid, ok := procStat(p); ok && state != "Z" {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// Alive reports whether pid is a live, non-zombie process.
func Alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}

// procStat reads a process's state and parent from /proc/<pid>/stat
// ("pid (comm) state ppid ...").
func procStat(pid int) (state string, ppid int, ok bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	return fields[0], ppid, err == nil
}
