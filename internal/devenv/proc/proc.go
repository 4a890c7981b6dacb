// Package proc starts and stops child processes the way the dev
// environment, the benchmarks and the chaos suite need them (own process
// group, killed with the parent, a signal of the caller's choice), and reads
// what /proc says about a process (CPU time, resident memory, descendants).
// It is test and development support.
package proc

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

// Process is a child process with its own process group, killed with the
// parent (Pdeathsig) so that no orphan survives a crash of its starter.
type Process struct {
	Cmd     *exec.Cmd
	LogPath string
	done    chan error
	log     *os.File
}

// Start runs bin with args and env, appending its output to logPath.
// attr, when non-nil, replaces the default process attributes (own process
// group, SIGKILL when the parent dies), for example to run as another user.
func Start(bin string, args, env []string, logPath string, attr *syscall.SysProcAttr) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if attr != nil {
		cmd.SysProcAttr = attr
	}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", bin, err), log.Close())
	}
	p := &Process{Cmd: cmd, done: make(chan error, 1), LogPath: logPath, log: log}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Exited reports, without waiting, whether the process has exited and with what.
func (p *Process) Exited() (exited bool, err error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Stop sends sig to the process group and waits; after grace it kills the
// group. An exit caused by the signal sent is not an error.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) (err error) {
	defer func() { err = errors.Join(err, p.log.Close()) }()
	_ = syscall.Kill(-p.Pid(), sig)
	select {
	case err := <-p.done:
		p.done <- err
		return exitErr(err, sig)
	case <-time.After(grace):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		err := <-p.done
		p.done <- err
		return exitErr(err, syscall.SIGKILL)
	}
}

// exitErr ignores the exit caused by the signal we sent.
func exitErr(err error, sig syscall.Signal) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
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
		if st, ok := readStat(p); ok && st.state != "Z" {
			children[st.ppid] = append(children[st.ppid], p)
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

// Name is pid's command name (/proc/<pid>/comm).
func Name(pid int) string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// Alive reports whether pid is a live, non-zombie process.
func Alive(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != "Z"
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times on Linux.
const clockTicks = 100

// CPUTime is the CPU time (user and system) pid has used so far.
func CPUTime(pid int) (time.Duration, error) {
	st, ok := readStat(pid)
	if !ok {
		return 0, fmt.Errorf("process %d: no /proc stat", pid)
	}
	return time.Duration(st.utime+st.stime) * time.Second / clockTicks, nil
}

// RSS is pid's resident memory and its peak (VmRSS and VmHWM), in bytes.
func RSS(pid int) (current, peak int64, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kib, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			current = kib << 10
		case "VmHWM:":
			peak = kib << 10
		}
	}
	return current, peak, nil
}

type stat struct {
	state        string
	ppid         int
	utime, stime int64
}

// readStat reads /proc/<pid>/stat ("pid (comm) state ppid ... utime stime ...").
func readStat(pid int) (stat, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return stat{}, false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// After the comm: state(0) ppid(1) ... utime(11) stime(12).
	if len(fields) < 13 {
		return stat{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	utime, err2 := strconv.ParseInt(fields[11], 10, 64)
	stime, err3 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return stat{}, false
	}
	return stat{state: fields[0], ppid: ppid, utime: utime, stime: stime}, true
}

// CommandLine is pid's executable and arguments (/proc/<pid>/exe and cmdline).
func CommandLine(pid int) (bin string, args []string, err error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	if bin, err = os.Readlink(filepath.Join(dir, "exe")); err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return "", nil, err
	}
	fields := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	return bin, fields[1:], nil
}

// OpenSockets counts pid's open socket file descriptors (TCP and Unix
// connections and listeners).
func OpenSockets(pid int) (int, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n, nil
}
