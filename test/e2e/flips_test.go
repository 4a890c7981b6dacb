//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// flipSeed is E2E_SEED when set (to replay a failure), else the time.
func flipSeed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("E2E_SEED"), 10, 64); err == nil {
		return s
	}
	return uint64(time.Now().UnixNano())
}

var _ = Describe("Moves reversed in flight", Ordered, func() {
	It("7. converge with every document exactly once while the manager is SIGKILLed at random moments", func() {
		seed := flipSeed()
		rng := rand.New(rand.NewPCG(seed, seed))
		GinkgoWriter.Printf("seed %d (E2E_SEED=%d replays it)\n", seed, seed)
		AddReportEntry("seed", seed)

		const tenants, docs, kills = 3, 300, 10
		names := make([]string, tenants)
		for i := range names {
			names[i] = fmt.Sprintf("flip-%d", i)
			_, err := apply(orgManifest(names[i], fmt.Sprintf("  admin:\n    email: admin@%s.example\n  tenancy: Dedicated\n", names[i])))
			Expect(err).NotTo(HaveOccurred())
		}
		waitConverged(60*time.Second, names...)
		for _, name := range names {
			for j := range docs {
				Expect(sd.InsertMany(ctx, "org_"+name, []any{bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%04d", name, j)}, {Key: "n", Value: j}}})).To(Succeed())
			}
		}

		// Each round switches every tenant the other way, waits a random
		// moment (often mid-move) and kills the manager.
		tenancy := "Dedicated"
		for k := range kills {
			if tenancy == "Dedicated" {
				tenancy = "Shared"
			} else {
				tenancy = "Dedicated"
			}
			for _, name := range names {
				kubectl("patch", "organization", name, "--type=merge", "-p", `{"spec":{"tenancy":"`+tenancy+`"}}`)
			}
			wait := time.Duration(200+rng.IntN(1800)) * time.Millisecond
			time.Sleep(wait)
			GinkgoWriter.Printf("kill %d: %s after switching to %s\n", k+1, wait, tenancy)
			Expect(env.KillManager(syscall.SIGKILL)).To(Succeed())
			Expect(env.StartManager(ctx)).To(Succeed())
		}
		Expect(tenancy).To(Equal("Dedicated"), "an even number of rounds ends Dedicated")
		// Converged: Ready for the last spec (kubectl wait alone would also
		// accept a Ready of the previous generation), in org_<name>, no move.
		for _, name := range names {
			Eventually(func() []string {
				out, _ := env.Kubectl(ctx, "get", "organization", name, "-o", `jsonpath={.metadata.generation}/{.status.observedGeneration}/`+
					`{.status.conditions[?(@.type=="Ready")].status}/{.status.collection}/{.status.migration}`)
				f := strings.Split(out, "/")
				if len(f) != 5 || f[0] != f[1] {
					return []string{out}
				}
				return f[2:]
			}, "180s", "500ms").Should(Equal([]string{"True", "org_" + name, ""}), "organization %s", name)
		}

		for _, name := range names {
			Expect(db.Count(ctx, "org_"+name, bson.D{})).To(Equal(int64(docs)), "documents of %s in its collection", name)
			for j := range docs {
				id := fmt.Sprintf("%s-%04d", name, j)
				Expect(db.Count(ctx, "org_"+name, bson.D{{Key: "_id", Value: id}})).To(Equal(int64(1)), "%s", id)
			}
			Expect(db.Count(ctx, "shared_tenants", bson.D{{Key: "organization", Value: name}})).To(BeZero(),
				"documents of %s left in the shared collection", name)
		}
	})
})
