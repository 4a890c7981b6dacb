//go:build e2e

// Package e2e starts the same environment as `make dev` (test/devenv: etcd,
// kube-apiserver, FerretDB, the real manager binary as its own process) and
// drives it only from outside, the way platform teams and tenant admins do:
// kubectl and HTTP.
package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/test/devenv"
	"github.com/org-operator/org-operator/test/testenv"
)

var (
	ctx   context.Context
	env   *devenv.Env
	mongo *mongostore.Store
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "org-operator end-to-end suite (kubectl + HTTP)")
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	port := l.Addr().(*net.TCPAddr).Port
	Expect(l.Close()).To(Succeed())
	return port
}

func managerBinary() string {
	bin := filepath.Join(testenv.RepoRoot(), "bin", "manager")
	_, err := os.Stat(bin)
	Expect(err).NotTo(HaveOccurred(), "build the manager first: make test-e2e does (go build -o bin/manager ./cmd)")
	return bin
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	apiPort := freePort()
	var err error
	env, err = devenv.Start(ctx, devenv.Options{
		Root:          testenv.RepoRoot(),
		StateDir:      GinkgoT().TempDir(),
		ManagerBinary: managerBinary(),
		APIPort:       apiPort,
		MongoPort:     freePort(),
		ManagerArgs:   append(devenv.ManagerAPIArgs(apiPort), "--api-login-rate=1000", "--api-login-burst=1000"),
		Log:           GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred())
	mongo, err = mongostore.Connect(mongostore.Options{URI: env.MongoURI, Database: "orgs", ServerSelectionTimeout: 2 * time.Second})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if mongo != nil {
		_ = mongo.Close(ctx)
	}
	if env != nil {
		if CurrentSpecReport().Failed() {
			if log, err := os.ReadFile(env.ManagerLog); err == nil {
				GinkgoWriter.Printf("manager log:\n%s\n", log)
			}
		}
		Expect(env.Stop()).To(Succeed())
	}
})
