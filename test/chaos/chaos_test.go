//go:build chaos

// Package chaos runs a seeded mixed workload against the `make dev`
// environment (etcd, kube-apiserver, FerretDB and the manager, each its own
// process) while it SIGKILLs the manager and the store at random moments
// and restarts kube-apiserver and etcd on their data, and after every
// recovery checks the invariants with workload.Checker (an independent
// MongoDB client, the apiserver without cache, and logins over HTTP).
//
//	make test-chaos                                 # 50 organizations, 20 manager kills, 3 store kills
//	make test-chaos CHAOS_SEED=1234                 # replay a failure
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/seed"
	"github.com/org-operator/org-operator/internal/testsupport/workload"
)

// params is the run's size, from the environment (CHAOS_*).
type params struct {
	seed                     uint64
	orgs, big, bigDocs       int
	accesses                 int
	managerKills, storeKills int
	converge                 time.Duration
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func loadParams() params {
	p := params{seed: uint64(time.Now().UnixNano()), orgs: envInt("CHAOS_ORGS", 50), big: envInt("CHAOS_BIG", 6),
		bigDocs: envInt("CHAOS_BIG_DOCS", 500), managerKills: envInt("CHAOS_MANAGER_KILLS", 20),
		storeKills: envInt("CHAOS_STORE_KILLS", 3), accesses: envInt("CHAOS_ACCESSES", 8), converge: 4 * time.Minute}
	if s, err := strconv.ParseUint(os.Getenv("CHAOS_SEED"), 10, 64); err == nil {
		p.seed = s
	}
	return p
}

// appNamespace holds the workload's applications: every organization allows
// it, and their OrganizationAccess objects and connection Secrets are there.
const appNamespace = "apps"

var (
	ctx      context.Context
	env      *devenv.Env
	db       *check.Mongo
	sd       *seed.Mongo
	drv      *workload.Driver
	checker  *workload.Checker
	stateDir string
	failed   bool
	// bigNames are the tenants with many documents (the movers), renamed
	// along with them.
	bigNames []string
)

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "org-operator chaos suite (process kills under a mixed workload)")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	root := controlplane.RepoRoot()
	apiPort, mongoPort := proc.MustFreePort(), proc.MustFreePort()
	var err error
	// Kept when the suite fails: the logs of every process are there.
	stateDir, err = os.MkdirTemp("", "org-operator-chaos-")
	Expect(err).NotTo(HaveOccurred())
	env, err = devenv.Start(ctx, devenv.Options{
		Root: root, StateDir: stateDir,
		ManagerBinary: filepath.Join(root, "bin", "manager"), FerretDBBinary: filepath.Join(root, "bin", "ferretdb"),
		APIPort: apiPort, MongoPort: mongoPort, SecondMongoPort: proc.MustFreePort(), Log: GinkgoWriter,
		ManagerArgs: append(devenv.ManagerAPIArgs(apiPort),
			"--api-login-rate=10000", "--api-login-burst=10000", "--api-write-rate=1000", "--api-write-burst=1000",
			"--api-lockout-threshold=100000", "--api-lockout-global-threshold=0",
			"--migration-batch-size=50", "--api-change-timeout=5s", "--access-rotation-grace=5s"),
	})
	Expect(err).NotTo(HaveOccurred())
	k8s, err := client.New(env.Config(), client.Options{Scheme: operator.Scheme})
	Expect(err).NotTo(HaveOccurred())
	db, err = check.ConnectMongo(env.MongoURI, "orgs")
	Expect(err).NotTo(HaveOccurred())
	sd, err = seed.ConnectMongo(env.MongoURI, "orgs")
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNamespace}})).To(Succeed())
	drv = &workload.Driver{K8s: k8s, DB: db, Writer: sd, APIURL: env.APIURL, Shared: tenancyv1alpha1.DefaultSharedCollection,
		CredentialsNamespace: devenv.CredentialsNamespace, AppNamespace: appNamespace, Model: workload.NewModel()}
	checker = drv.Checker()
})

var _ = AfterSuite(func() {
	if sd != nil {
		_ = sd.Close(ctx)
	}
	if db != nil {
		_ = db.Close(ctx)
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
	if failed {
		GinkgoWriter.Printf("logs of every process kept in %s\n", stateDir)
	} else if stateDir != "" {
		Expect(os.RemoveAll(stateDir)).To(Succeed())
	}
})

var _ = ReportAfterEach(func(r SpecReport) {
	failed = failed || r.Failed()
})

var _ = Describe("Chaos", Ordered, func() {
	p := loadParams()
	rng := rand.New(rand.NewPCG(p.seed, p.seed))

	It("starts the workload: organizations Dedicated and Shared, Retain and Delete, some with many documents", func() {
		GinkgoWriter.Printf("seed %d (CHAOS_SEED=%d replays it): %d organizations, %d with %d documents, %d manager kills, %d store kills\n",
			p.seed, p.seed, p.orgs, p.big, p.bigDocs, p.managerKills, p.storeKills)
		AddReportEntry("seed", p.seed)
		for i := range p.orgs {
			name := fmt.Sprintf("t-%02d", i)
			Expect(drv.Create(ctx, name, randomTenancy(rng), randomPolicy(rng))).To(Succeed())
			if i < p.big {
				bigNames = append(bigNames, name)
			}
		}
		converge("initial creation")
		for i, name := range drv.Model.Names() {
			n := 1 + rng.IntN(20)
			if i < p.big {
				n = p.bigDocs
			}
			Expect(drv.Seed(ctx, name, n)).To(Succeed())
		}
		converge("initial documents")
		Expect(checker.Logins(ctx, drv.Model)).To(BeEmpty())
		// Applications of some of them get their own MongoDB users.
		names := drv.Model.Names()
		for range p.accesses {
			_, err := drv.GrantAccess(ctx, names[rng.IntN(len(names))])
			Expect(err).NotTo(HaveOccurred())
		}
		converge("initial accesses")
	})

	It("has a checker that fails when a document is deleted, duplicated, an admin record or an access user appears behind its back", func() {
		t := drv.Model.Get(bigNames[0])
		coll, _ := t.Location(drv.Shared)
		id := fmt.Sprintf("%s-%04d", t.Name, 7)
		Expect(sd.DeleteOne(ctx, coll, bson.D{{Key: "_id", Value: id}})).To(Equal(int64(1)))
		Expect(checker.Converged(ctx, drv.Model)).To(ContainElement(ContainSubstring("document " + id + " of " + t.Name)))
		doc := map[string]any{"_id": id, "n": int32(7), "payload": "document " + id}
		if t.Tenancy == tenancyv1alpha1.TenancyShared {
			doc["organization"] = t.Name
		}
		Expect(sd.InsertMany(ctx, coll, []any{doc})).To(Succeed())
		Expect(checker.Converged(ctx, drv.Model)).To(BeEmpty())

		// The same document a second time, in another tenant's place.
		other := tenancyv1alpha1.DedicatedCollection("stray")
		Expect(sd.InsertMany(ctx, other, []any{map[string]any{"_id": id, "n": int32(7)}})).To(Succeed())
		Expect(checker.Converged(ctx, drv.Model)).To(ContainElements(ContainSubstring("orphan collection "+other), ContainSubstring("document "+id)))
		Expect(sd.DeleteOne(ctx, other, bson.D{{Key: "_id", Value: id}})).To(Equal(int64(1)))
		Expect(sd.Drop(ctx, other)).To(Succeed())

		// A MongoDB user of the access scheme nobody owns, and an access
		// the model says was deleted but exists.
		stray := tenancyv1alpha1.AccessUserPrefix + "nobody.00000000-0000-4000-8000-000000000000.a"
		Expect(sd.CreateUser(ctx, stray, "a-stray-password")).To(Succeed())
		Expect(checker.Converged(ctx, drv.Model)).To(ContainElement(ContainSubstring(stray)))
		Expect(sd.DropUser(ctx, stray)).To(Succeed())
		a := drv.Model.Accesses()[0]
		drv.Model.DeleteAccess(a.Key())
		Expect(checker.Converged(ctx, drv.Model)).To(ContainElements(ContainSubstring("OrganizationAccess "+a.Key()+" exists but the workload deleted it"),
			ContainSubstring("the connection Secret of deleted access "+a.Key())))
		drv.Model.AddAccess(&a)
		Expect(checker.Converged(ctx, drv.Model)).To(BeEmpty())

		Expect(sd.InsertMany(ctx, "admins", []any{map[string]any{"_id": "forged", "organization": "nobody", "email": "x@y.example"}})).To(Succeed())
		Expect(checker.Converged(ctx, drv.Model)).To(ContainElement(ContainSubstring("admin records for nobody")))
		Expect(sd.DeleteOne(ctx, "admins", bson.D{{Key: "_id", Value: "forged"}})).To(Equal(int64(1)))
		Expect(checker.Converged(ctx, drv.Model)).To(BeEmpty())
	})

	It("converges after every manager kill, store kill and control-plane restart", func() {
		kinds := make([]string, 0, p.managerKills+p.storeKills+2)
		for range p.managerKills {
			kinds = append(kinds, "manager")
		}
		for range p.storeKills {
			kinds = append(kinds, "store")
		}
		kinds = append(kinds, devenv.KubeAPIServer, devenv.Etcd)
		rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

		start, killsMidMove := time.Now(), 0
		for k, kind := range kinds {
			r := &round{k: k, kind: kind, rng: rng}
			r.act()
			delay := time.Duration(50+rng.IntN(1500)) * time.Millisecond // a 500-document move takes about 1-3 s here
			time.Sleep(delay)
			moving := movesInFlight()
			if moving > 0 {
				killsMidMove++
			}
			GinkgoWriter.Printf("round %d: %s killed %s after the round's actions, %d moves in flight (t=%s)\n",
				k+1, kind, delay, moving, time.Since(start).Round(time.Millisecond))
			r.inject()
			converge(fmt.Sprintf("round %d (%s)", k+1, kind))
			Expect(checker.Logins(ctx, drv.Model)).To(BeEmpty(), "round %d (%s), seed %d", k+1, kind, p.seed)
			for _, name := range r.created {
				Expect(drv.Seed(ctx, name, 1+rng.IntN(30))).To(Succeed())
			}
		}
		converge("end")
		Expect(checker.Logins(ctx, drv.Model)).To(BeEmpty())
		AddReportEntry("kills", fmt.Sprintf("%d manager, %d store, 1 kube-apiserver, 1 etcd", p.managerKills, p.storeKills))
		GinkgoWriter.Printf("%d rounds in %s (%d kills or restarts with a move in flight); %d live organizations, %d deleted, %d retained; %d accesses, %d deleted\n",
			len(kinds), time.Since(start).Round(time.Second), killsMidMove, len(drv.Model.Names()), len(drv.Model.Deleted()), len(drv.Model.RetainedData()),
			len(drv.Model.Accesses()), len(drv.Model.DeletedAccesses()))
	})
})

// round is one step of the chaos run: a few actions, then one kill.
type round struct {
	k       int
	kind    string
	rng     *rand.Rand
	created []string
	moved   string
	// pruneFirst is a rename done while the manager is down, old first.
	pruneFirst [2]string
}

// act performs the round's workload actions (the kill comes after).
func (r *round) act() {
	GinkgoHelper()
	live := seededLive()
	if movers := liveAmong(bigNames); len(movers) > 0 {
		r.moved = movers[r.rng.IntN(len(movers))]
	}
	name := fmt.Sprintf("n-%02d", r.k)
	Expect(drv.Create(ctx, name, randomTenancy(r.rng), randomPolicy(r.rng))).To(Succeed())
	r.created = append(r.created, name)
	small := without(live, bigNames)
	if len(small) > 0 && r.rng.IntN(10) < 6 {
		victim := small[r.rng.IntN(len(small))]
		GinkgoWriter.Printf("  delete %s (%s)\n", victim, drv.Model.Get(victim).Policy)
		Expect(drv.Delete(ctx, victim)).To(Succeed())
		small, live = without(small, []string{victim}), without(live, []string{victim})
	}
	// A rename, of any tenant but the one this round moves (renaming a
	// tenant in the middle of a tenancy switch is not in this workload).
	if sources := without(live, []string{r.moved}); r.k%3 == 0 && len(sources) > 0 {
		from := sources[r.rng.IntN(len(sources))]
		to := fmt.Sprintf("r-%02d", r.k)
		for i, b := range bigNames {
			if b == from {
				bigNames[i] = to
			}
		}
		if r.kind == "manager" && r.rng.IntN(2) == 0 {
			r.pruneFirst = [2]string{from, to}
		} else {
			GinkgoWriter.Printf("  rename %s -> %s (new first)\n", from, to)
			Expect(drv.Rename(ctx, from, to, false)).To(Succeed())
			small, live = without(small, []string{from}), without(live, []string{from})
		}
	}
	if len(small) > 0 {
		who := small[r.rng.IntN(len(small))]
		if who != r.pruneFirst[0] {
			ok, err := drv.RotateSecret(ctx, who)
			Expect(err).NotTo(HaveOccurred())
			if ok {
				GinkgoWriter.Printf("  password of %s rotated in its Secret\n", who)
			}
		}
	}
	if len(live) > 0 && r.k%2 == 0 {
		who := live[r.rng.IntN(len(live))]
		if who != r.pruneFirst[0] {
			Expect(drv.RotateAPI(ctx, who)).To(Succeed())
			GinkgoWriter.Printf("  password of %s changed through the API\n", who)
		}
	}
	if len(live) > 0 {
		Expect(drv.Session(ctx, live[r.rng.IntN(len(live))])).To(Succeed())
	}
	r.accessActions(live)
	// Last, so that the kill lands while it runs: a large tenant switched,
	// and half the time switched back while the first move is copying.
	if r.moved != "" {
		to, err := drv.Flip(ctx, r.moved)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("  move %s -> %s\n", r.moved, to)
		if r.rng.IntN(2) == 0 {
			time.Sleep(time.Duration(100+r.rng.IntN(900)) * time.Millisecond)
			to, err = drv.Flip(ctx, r.moved)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("  move %s reversed -> %s\n", r.moved, to)
		}
	}
}

// accessActions creates, rotates and deletes applications' accesses: most
// rounds grant one, half rotate one, some delete one (accesses of deleted
// organizations too).
func (r *round) accessActions(live []string) {
	GinkgoHelper()
	if len(live) > 0 && r.rng.IntN(10) < 7 {
		key, err := drv.GrantAccess(ctx, live[r.rng.IntN(len(live))])
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("  access %s granted\n", key)
	}
	var bound []workload.Access
	accesses := drv.Model.Accesses()
	for _, a := range accesses {
		if !a.Orphaned && a.Organization != r.pruneFirst[0] {
			bound = append(bound, a)
		}
	}
	if len(bound) > 0 && r.rng.IntN(2) == 0 {
		a := bound[r.rng.IntN(len(bound))]
		Expect(drv.RotateAccess(ctx, a.Key())).To(Succeed())
		GinkgoWriter.Printf("  access %s rotated\n", a.Key())
	}
	if len(accesses) > 0 && r.rng.IntN(4) == 0 {
		a := accesses[r.rng.IntN(len(accesses))]
		Expect(drv.RevokeAccess(ctx, a.Key())).To(Succeed())
		GinkgoWriter.Printf("  access %s deleted\n", a.Key())
	}
}

// inject kills or restarts the round's component and brings it back.
func (r *round) inject() {
	GinkgoHelper()
	switch r.kind {
	case "manager":
		Expect(env.KillManager(syscall.SIGKILL)).To(Succeed())
		if r.pruneFirst[0] != "" {
			GinkgoWriter.Printf("  rename %s -> %s (old pruned first, manager down)\n", r.pruneFirst[0], r.pruneFirst[1])
			Expect(drv.Rename(ctx, r.pruneFirst[0], r.pruneFirst[1], true)).To(Succeed())
		}
		Expect(env.StartManager(ctx)).To(Succeed())
	case "store":
		Expect(env.KillMongo(syscall.SIGKILL)).To(Succeed())
		time.Sleep(time.Duration(r.rng.IntN(2000)) * time.Millisecond)
		Expect(env.StartMongo()).To(Succeed())
	default:
		away, err := env.RestartControlPlane(ctx, r.kind)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("  %s back after %s\n", r.kind, away.Round(time.Millisecond))
	}
}

// converge waits until the checker finds nothing, failing with what it found.
func converge(when string) {
	GinkgoHelper()
	start := time.Now()
	violations := checker.WaitConverged(ctx, drv.Model, loadParams().converge)
	Expect(violations).To(BeEmpty(), "not converged after %s (%s)", loadParams().converge, when)
	GinkgoWriter.Printf("  converged in %s (%s)\n", time.Since(start).Round(time.Millisecond), when)
}

// movesInFlight counts the Organizations whose status records a move.
func movesInFlight() int {
	var list tenancyv1alpha1.OrganizationList
	if err := drv.K8s.List(ctx, &list); err != nil {
		return -1
	}
	n := 0
	for _, o := range list.Items {
		if o.Status.Migration != nil {
			n++
		}
	}
	return n
}

func seededLive() []string {
	var out []string
	for _, t := range drv.Model.Live() {
		if t.Seeded {
			out = append(out, t.Name)
		}
	}
	return out
}

func liveAmong(names []string) []string {
	var out []string
	for _, n := range names {
		if t := drv.Model.Get(n); t != nil && t.Seeded {
			out = append(out, n)
		}
	}
	return out
}

func without(names, drop []string) []string {
	var out []string
	for _, n := range names {
		keep := true
		for _, d := range drop {
			keep = keep && n != d
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

func randomTenancy(rng *rand.Rand) tenancyv1alpha1.Tenancy {
	if rng.IntN(2) == 0 {
		return tenancyv1alpha1.TenancyShared
	}
	return tenancyv1alpha1.TenancyDedicated
}

func randomPolicy(rng *rand.Rand) tenancyv1alpha1.DeletionPolicy {
	if rng.IntN(2) == 0 {
		return tenancyv1alpha1.DeletionPolicyRetain
	}
	return tenancyv1alpha1.DeletionPolicyDelete
}
