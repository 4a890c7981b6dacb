package proc

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestStartReadStop(t *testing.T) {
	p, err := Start("/bin/sh", []string{"-c", "while :; do :; done"}, nil, filepath.Join(t.TempDir(), "log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if !Alive(p.Pid()) {
		t.Fatal("the child is not alive")
	}
	if kids := Descendants(os.Getpid()); len(kids) == 0 {
		t.Fatal("the child is not among the descendants")
	}
	cpu, err := CPUTime(p.Pid())
	if err != nil || cpu <= 0 {
		t.Fatalf("CPUTime = %s, %v; a busy loop used none", cpu, err)
	}
	rss, peak, err := RSS(p.Pid())
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("RSS = %d, peak %d, %v", rss, peak, err)
	}
	if exited, _ := p.Exited(); exited {
		t.Fatal("reported as exited while running")
	}
	if err := p.Stop(syscall.SIGKILL, time.Second); err != nil {
		t.Fatalf("Stop with SIGKILL: %v (the signal we sent is not an error)", err)
	}
	if exited, _ := p.Exited(); !exited || Alive(p.Pid()) {
		t.Fatal("still running after Stop")
	}
}
