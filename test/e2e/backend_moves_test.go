//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/org-operator/org-operator/internal/devenv"
	"github.com/org-operator/org-operator/internal/testsupport/check"
)

var _ = Describe("Moves between backends reversed in flight", Ordered, func() {
	It("7b. converge with every document exactly once on the right deployment while the manager is SIGKILLed at random moments", func() {
		seed := flipSeed()
		rng := rand.New(rand.NewPCG(seed, seed+1))
		GinkgoWriter.Printf("seed %d (E2E_SEED=%d replays it)\n", seed, seed)
		_, err := apply(fmt.Sprintf(`apiVersion: tenancy.org-operator.io/v1alpha1
kind: MongoBackend
metadata:
  name: %s
spec:
  connectionSecretRef:
    name: %s
  database: tenants
`, devenv.SecondBackend, devenv.SecondBackendSecret))
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return kubectl("get", "mongobackend", devenv.SecondBackend, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		}, "60s", "500ms").Should(Equal("True"))
		onSecond, err := check.ConnectMongo(env.SecondMongoURI, "tenants")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(onSecond.Close, ctx)

		const tenants, docs, kills = 2, 5000, 7
		names := make([]string, tenants)
		for i := range names {
			names[i] = fmt.Sprintf("hop-%d", i)
			_, err := apply(orgManifest(names[i], fmt.Sprintf("  admin:\n    email: admin@%s.example\n  tenancy: Dedicated\n  backend: default\n", names[i])))
			Expect(err).NotTo(HaveOccurred())
		}
		waitConverged(60*time.Second, names...)
		for _, name := range names {
			batch := make([]any, docs)
			for j := range docs {
				batch[j] = bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%04d", name, j)}, {Key: "n", Value: j}}
			}
			Expect(sd.InsertMany(ctx, "org_"+name, batch)).To(Succeed())
		}

		// Each round sends every tenant to the other deployment, waits a
		// random moment (often mid-move) and kills the manager.
		backend, midMove := "default", 0
		for k := range kills {
			backend = map[string]string{"default": devenv.SecondBackend, devenv.SecondBackend: "default"}[backend]
			for _, name := range names {
				kubectl("patch", "organization", name, "--type=merge", "-p", `{"spec":{"backend":"`+backend+`"}}`)
			}
			wait := time.Duration(200+rng.IntN(1800)) * time.Millisecond
			time.Sleep(wait)
			moving := kubectl("get", "organizations", "-o", `jsonpath={range .items[*]}{.status.migration.target.backend}{" "}{end}`)
			if strings.TrimSpace(moving) != "" {
				midMove++
			}
			GinkgoWriter.Printf("kill %d: %s after sending the tenants to %s (moves between backends in flight: %q)\n", k+1, wait, backend, moving)
			Expect(env.KillManager(syscall.SIGKILL)).To(Succeed())
			Expect(env.StartManager(ctx)).To(Succeed())
		}
		Expect(backend).To(Equal(devenv.SecondBackend), "an odd number of rounds ends on the second deployment")
		GinkgoWriter.Printf("%d of %d kills landed during a move between backends\n", midMove, kills)
		Expect(midMove).To(BeNumerically(">=", 2), "too few kills landed during a move between backends to test anything")

		for _, name := range names {
			Eventually(func() []string {
				out, _ := env.Kubectl(ctx, "get", "organization", name, "-o", `jsonpath={.metadata.generation}/{.status.observedGeneration}/`+
					`{.status.conditions[?(@.type=="Ready")].status}/{.status.backend}/{.status.collection}/{.status.migration}`)
				f := strings.Split(out, "/")
				if len(f) != 6 || f[0] != f[1] {
					return []string{out}
				}
				return f[2:]
			}, "180s", "500ms").Should(Equal([]string{"True", devenv.SecondBackend, "org_" + name, ""}), "organization %s", name)
		}
		for _, name := range names {
			expectExactlyOnce(onSecond, name, docs)
			Expect(db.Count(ctx, "org_"+name, bson.D{})).To(BeZero(), "documents of %s left on the default deployment", name)
		}
	})
})

// expectExactlyOnce checks, through an independent client, that the
// tenant's collection holds each of its n documents once (and nothing else).
func expectExactlyOnce(m *check.Mongo, name string, n int) {
	GinkgoHelper()
	var got []struct {
		ID string `bson:"_id"`
	}
	Expect(m.Decode(ctx, "org_"+name, bson.D{}, &got)).To(Succeed())
	Expect(got).To(HaveLen(n), "documents of %s on the second deployment", name)
	seen := make(map[string]bool, n)
	for _, d := range got {
		Expect(seen[d.ID]).To(BeFalse(), "duplicate %s", d.ID)
		seen[d.ID] = true
	}
	for j := range n {
		Expect(seen).To(HaveKey(fmt.Sprintf("%s-%04d", name, j)))
	}
}
