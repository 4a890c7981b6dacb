//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/proc"
)

var _ = Describe("The make dev tool", Ordered, func() {
	var devBin string
	BeforeAll(func() {
		devBin = filepath.Join(GinkgoT().TempDir(), "dev")
		cmd := exec.Command("go", "build", "-o", devBin, "./hack/dev")
		cmd.Dir = controlplane.RepoRoot()
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
	})

	startDev := func(stateDir string) (*exec.Cmd, *bufio.Reader) {
		cmd := exec.Command(devBin, "--api-port", strconv.Itoa(proc.MustFreePort()), "--mongo-port", strconv.Itoa(proc.MustFreePort()))
		cmd.Dir = controlplane.RepoRoot()
		cmd.Env = append(os.Environ(), "DEV_STATE_DIR="+stateDir)
		stdout, err := cmd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		cmd.Stderr = cmd.Stdout
		Expect(cmd.Start()).To(Succeed())
		return cmd, bufio.NewReader(stdout)
	}

	It("brings the samples up, refuses a second instance, and leaves no process behind after Ctrl-C", func() {
		stateDir := GinkgoT().TempDir()
		cmd, out := startDev(stateDir)
		var printed strings.Builder
		ready := make(chan error, 1)
		go func() {
			for {
				line, err := out.ReadString('\n')
				printed.WriteString(line)
				if strings.Contains(line, "Press Ctrl-C to stop") {
					ready <- nil
					_, _ = io.Copy(io.Discard, out)
					return
				}
				if err != nil {
					ready <- fmt.Errorf("dev exited early: %w\n%s", err, printed.String())
					return
				}
			}
		}()
		Eventually(ready, "240s").Should(Receive(BeNil()))
		Expect(printed.String()).To(MatchRegexp(`acme\s+True\s+Dedicated\s+org_acme`))
		Expect(printed.String()).To(MatchRegexp(`globex\s+True\s+Dedicated\s+org_globex`))
		Expect(printed.String()).To(ContainSubstring("/v1/auth/login"))
		envFile, err := os.ReadFile(filepath.Join(stateDir, "env"))
		Expect(err).NotTo(HaveOccurred())
		for _, v := range []string{"KUBECONFIG=", "MONGODB_URI=", "ORG_API_URL="} {
			Expect(string(envFile)).To(ContainSubstring("export " + v))
		}

		// A second instance on the same state directory says so and fails.
		second := exec.Command(devBin)
		second.Dir = controlplane.RepoRoot()
		second.Env = append(os.Environ(), "DEV_STATE_DIR="+stateDir)
		secondOut, err := second.CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(secondOut)).To(ContainSubstring("already running"))

		procs := proc.Descendants(cmd.Process.Pid)
		Expect(len(procs)).To(BeNumerically(">=", 4), "the manager, FerretDB, etcd and kube-apiserver should be children")
		Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var exitErr error
		Eventually(done, "60s").Should(Receive(&exitErr))
		Expect(exitErr).NotTo(HaveOccurred(), "make dev must exit 0 after Ctrl-C")
		for _, p := range procs {
			Eventually(func() bool { return proc.Alive(p) }, "10s").Should(BeFalse(), "process %d survived", p)
		}
	})

	It("reports a port in use in one line", func() {
		l, err := netListen()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(l.Close)
		port := l.Addr().(interface{ String() string }).String()
		cmd := exec.Command(devBin, "--api-port", port[strings.LastIndexByte(port, ':')+1:], "--mongo-port", strconv.Itoa(proc.MustFreePort()))
		cmd.Dir = controlplane.RepoRoot()
		cmd.Env = append(os.Environ(), "DEV_STATE_DIR="+GinkgoT().TempDir())
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		Expect(errors.As(err, &ee)).To(BeTrue())
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		Expect(lines).To(HaveLen(1), string(out))
		Expect(lines[0]).To(ContainSubstring("is already in use"))
	})
})

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
