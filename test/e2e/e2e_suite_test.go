//go:build e2e

// Package e2e starts the same environment as `make dev` (internal/devenv: etcd,
// kube-apiserver, FerretDB, the real manager binary as its own process) and
// drives it only from outside, the way platform teams and tenant admins do:
// kubectl and HTTP.
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/org-operator/org-operator/internal/devenv"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/seed"
)

var (
	ctx context.Context
	env *devenv.Env
	// k8s reads the apiserver without a cache; db reads MongoDB and sd
	// writes it, all independently of the code under test.
	k8s client.Client
	db  *check.Mongo
	sd  *seed.Mongo
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "org-operator end-to-end suite (kubectl + HTTP)")
}

func managerBinary() string {
	bin := filepath.Join(controlplane.RepoRoot(), "bin", "manager")
	_, err := os.Stat(bin)
	Expect(err).NotTo(HaveOccurred(), "build the manager first: make test-e2e does (go build -o bin/manager ./cmd)")
	return bin
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	apiPort := proc.MustFreePort()
	var err error
	env, err = devenv.Start(ctx, devenv.Options{
		Root:            controlplane.RepoRoot(),
		StateDir:        GinkgoT().TempDir(),
		ManagerBinary:   managerBinary(),
		APIPort:         apiPort,
		MongoPort:       proc.MustFreePort(),
		SecondMongoPort: proc.MustFreePort(),
		ManagerArgs:     append(devenv.ManagerAPIArgs(apiPort), "--api-login-rate=1000", "--api-login-burst=1000"),
		Log:             GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(env.Config(), client.Options{Scheme: operator.Scheme})
	Expect(err).NotTo(HaveOccurred())
	db, err = check.ConnectMongo(env.MongoURI, "orgs")
	Expect(err).NotTo(HaveOccurred())
	sd, err = seed.ConnectMongo(env.MongoURI, "orgs")
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	for _, c := range []interface{ Close(context.Context) error }{db, sd} {
		if c != nil {
			_ = c.Close(ctx)
		}
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
