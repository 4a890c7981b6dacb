//go:build integration

package controlplane_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/proc"
)

// starterEnv marks the child run of TestControlPlaneDiesWithItsStarter.
const starterEnv = "ORG_OPERATOR_TEST_CONTROL_PLANE_STARTER"

// TestControlPlaneDiesWithItsStarter starts a control plane in a child test
// process, SIGKILLs that process (as a go test -timeout or a crash ends it,
// without envtest's Stop) and requires etcd and kube-apiserver to be gone.
func TestControlPlaneDiesWithItsStarter(t *testing.T) {
	if os.Getenv(starterEnv) != "" {
		startAndWait(t)
		return
	}
	child := exec.Command(os.Args[0], "-test.run=^TestControlPlaneDiesWithItsStarter$", "-test.timeout=2m")
	child.Env = append(os.Environ(), starterEnv+"=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	var pids []int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "control-plane pids:"); ok {
			for _, f := range strings.Fields(rest) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 2 {
		t.Fatalf("the child reported control-plane pids %v, want etcd and kube-apiserver", pids)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for proc.Alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("%s (pid %d) outlived the process that started it", proc.Name(pid), pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// startAndWait is the child: it starts a control plane, prints the pids of
// etcd and kube-apiserver and waits to be killed.
func startAndWait(t *testing.T) {
	env, _, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, pid := range proc.Descendants(os.Getpid()) {
		if n := proc.Name(pid); n == "etcd" || n == "kube-apiserver" {
			pids = append(pids, strconv.Itoa(pid))
		}
	}
	fmt.Println("control-plane pids: " + strings.Join(pids, " "))
	time.Sleep(time.Minute)
	_ = env.Stop()
}
