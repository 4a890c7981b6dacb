// Command scale-bench measures the operator at scale against the real
// manager binary as its own process, a real control plane (envtest) and
// FerretDB as its own process, over SQLite (as `make dev`) or PostgreSQL 15
// (started here in a temporary folder, fsync off). In one run it prints:
//
//   - the ceilings the creation of an organization is bound by, measured
//     with the same concurrency: the apiserver's raw write rate, the store's
//     raw single-document write rate, and the hash rates;
//
//   - N organizations created at once: orgs/s and its ratio to the binding
//     ceiling, Kubernetes API writes and MongoDB commands per organization,
//     create->Ready p50/p99;
//
//   - one resync period with N Ready: MongoDB commands and API writes
//     (amortised per organization), and the idle CPU of the manager and
//     the store over it;
//
//   - the latency of one new organization at N, alone and while a backlog
//     of drift repairs (N/10 tenants whose admin record was deleted) is
//     under way;
//
//   - the manager's RSS with N Organizations and N Secrets cached.
//
//     make bench-scale N=2000 BACKEND=sqlite
//     make bench-scale N=10000 BACKEND=postgresql
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/mongostore"
)

func main() {
	n := flag.Int("n", 2000, "organizations to create")
	backend := flag.String("backend", "sqlite", "store backend: sqlite or postgresql")
	writers := flag.Int("writers", 8, "concurrent creators (and concurrent raw writers for the ceilings)")
	resync := flag.Duration("resync", time.Minute, "the manager's --resync-period")
	probes := flag.Int("probes", 20, "single new organizations timed at N, per scenario")
	dedicated := flag.Int("dedicated", -1, "how many of the N organizations are Dedicated, the rest alternately Shared and Auto (-1: all)")
	backends := flag.Int("backends", 1, "deployments to spread the organizations over: 1, or 2 (every other one on MongoBackend second, a FerretDB on SQLite)")
	managerArgs := flag.String("manager-args", "", "extra manager flags, space-separated (default: the manager's defaults)")
	flag.Parse()
	ctrl.SetLogger(logr.Discard()) // the benchmark prints its own report
	if *dedicated < 0 || *dedicated > *n {
		*dedicated = *n
	}
	if *backends != 1 && *backends != 2 {
		fmt.Fprintln(os.Stderr, "scale-bench: -backends must be 1 or 2")
		os.Exit(2)
	}
	spread = *backends == 2
	if err := run(*n, *dedicated, *backend, *writers, *resync, *probes, strings.Fields(*managerArgs)); err != nil {
		fmt.Fprintln(os.Stderr, "scale-bench:", err)
		os.Exit(1)
	}
}

// spread puts every other organization on the second deployment (-backends 2).
var spread bool

func run(n, dedicated int, backend string, writers int, resync time.Duration, probes int, managerArgs []string) (err error) {
	ctx := context.Background()
	// The Dedicated organizations (and the probes) must fit the budget (the
	// default, 5000, would rightly stall the rest).
	managerArgs = append([]string{fmt.Sprintf("--max-dedicated-collections=%d", dedicated+2*probes+100)}, managerArgs...)
	e, err := startEnv(backend, resync, managerArgs)
	if err != nil {
		return err
	}
	defer func() {
		if serr := e.stop(); err == nil {
			err = serr
		}
	}()
	// Ctrl-C stops what the benchmark started (the control plane included).
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupt
		_ = e.stop()
		os.Exit(130)
	}()
	fmt.Printf("scale-bench: N=%d (%d Dedicated, the rest Shared and Auto), backend=%s, %d creators, manager --resync-period=%s %v, GOMAXPROCS=%d, %d CPUs\n",
		n, dedicated, backend, writers, resync, managerArgs, runtime.GOMAXPROCS(0), runtime.NumCPU())
	c, err := e.measureCeilings(ctx, writers)
	if err != nil {
		return err
	}
	fmt.Printf("ceilings (same run, %d concurrent writers):\n", writers)
	fmt.Printf("  apiserver raw writes            %9.1f /s\n", c.kubeWritesPerSec)
	fmt.Printf("  store raw point writes          %9.1f /s\n", c.storeWritesPerSec)
	fmt.Printf("  store, an organization's writes replayed (collection + admin record): %.1f orgs/s\n", c.storeOrgsPerSec)
	fmt.Printf("  hashes, generated passwords     %9.0f /s (salted SHA-256)\n", c.fastHashesPerSec)
	fmt.Printf("  hashes, chosen passwords        %9.1f /s (argon2id 19 MiB t=2)\n", c.argonHashesPerSec)
	orgWrites, perWrite, err := e.replay(ctx, "replay-kube", min(n, 1000), writers, nil)
	if err != nil {
		return err
	}
	c.orgWritesPerSec = orgWrites
	fmt.Printf("  apiserver, an organization's writes replayed without the operator: %.1f orgs/s\n", orgWrites)
	fmt.Printf("    (average time per write: %s)\n", describe(perWrite))
	store, err := mongostore.Connect(mongostore.Options{URI: e.storeURI})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close(ctx) }()
	machine, perCall, err := e.replay(ctx, "replay-machine", min(n, 1000), writers, store)
	if err != nil {
		return err
	}
	c.machinePerSec = machine
	fmt.Printf("  the machine, an organization's apiserver and store writes replayed together without the operator: %.1f orgs/s\n", machine)
	fmt.Printf("    (average time per call: %s)\n", describe(perCall))

	if err := e.startManager(); err != nil {
		return err
	}
	if spread {
		if err := e.startSecondBackend(ctx); err != nil {
			return err
		}
		fmt.Printf("spreading the organizations over two deployments: every other one on MongoBackend %s (FerretDB on SQLite)\n", secondBackend)
	}
	base, _, err := proc.RSS(e.manager.Pid()) // no tenant yet
	if err != nil {
		return err
	}
	etcdBase, err := e.etcdDBSize()
	if err != nil {
		return err
	}
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r, err := e.watchReadiness(watchCtx)
	if err != nil {
		return err
	}
	if err := createPhase(ctx, e, r, c, n, dedicated, writers); err != nil {
		return err
	}
	if err := idlePhase(e, n); err != nil {
		return err
	}
	if err := probePhase(ctx, e, r, n, probes); err != nil {
		return err
	}
	rss, peak, err := proc.RSS(e.manager.Pid())
	if err != nil {
		return err
	}
	alloc, inuse, err := e.heap()
	if err != nil {
		return err
	}
	tenants := n + 2*probes
	if err := controlPlaneFootprint(e, etcdBase, tenants); err != nil {
		return err
	}
	if url := os.Getenv("BENCH_PPROF_URL"); url != "" {
		// Diagnosis: what the live heap holds with N tenants (after a GC).
		if err := saveProfile(url+"/debug/pprof/heap?gc=1", "manager-heap.pprof"); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}
	fmt.Printf("manager memory with %d Organizations and %d Secrets cached (metadata only): "+
		"RSS %.1f MiB (peak %.1f MiB; %.1f MiB with none), %.1f KiB per tenant; Go heap %.1f MiB allocated, %.1f MiB in use\n",
		tenants, tenants, float64(rss)/(1<<20), float64(peak)/(1<<20), float64(base)/(1<<20), float64(rss-base)/1024/float64(tenants), alloc/(1<<20), inuse/(1<<20))
	return nil
}

// createPhase creates N organizations at once and reports the converge
// rate against the binding ceiling, per-organization costs and latencies.
func createPhase(ctx context.Context, e *benchEnv, r *readiness, c ceilings, n, dedicated, writers int) error {
	names := make([]string, n)
	created := make([]time.Time, n)
	for i := range names {
		names[i] = fmt.Sprintf("org-%05d", i)
	}
	before, err := e.scrape()
	if err != nil {
		return err
	}
	if url := os.Getenv("BENCH_PPROF_URL"); url != "" {
		// Diagnosis: the manager's CPU profile of the first 10 s of creation.
		go func() {
			if err := saveProfile(url+"/debug/pprof/profile?seconds=10", "manager-create.pprof"); err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
			}
		}()
	}
	cpu0 := sampleCPU()
	start := time.Now()
	if err := parallel(n, writers, func(i int) error {
		created[i] = time.Now()
		return e.k8s.Create(ctx, mixedOrg(names[i], i, dedicated))
	}); err != nil {
		return err
	}
	if err := r.waitAll(names, 90*time.Minute); err != nil {
		return err
	}
	var last time.Time
	lat := make([]time.Duration, n)
	for i, name := range names {
		at := r.readyAt(name)
		lat[i] = at.Sub(created[i])
		if at.After(last) {
			last = at
		}
	}
	elapsed := last.Sub(start)
	cpu1 := sampleCPU()
	time.Sleep(3 * time.Second) // the last events and status writes land
	after, err := e.scrape()
	if err != nil {
		return err
	}
	d := after.minus(before)
	perOrg := func(v float64) float64 { return v / float64(n) }
	orgRate := float64(n) / elapsed.Seconds()
	apiCeiling, storeCeiling, hashCeiling := c.orgWritesPerSec, c.storeOrgsPerSec, c.fastHashesPerSec
	binding, which := c.machinePerSec, "the machine (apiserver and store together)"
	for _, other := range []struct {
		v    float64
		name string
	}{{apiCeiling, "apiserver"}, {storeCeiling, "store"}, {hashCeiling, "hashing"}} {
		if other.v < binding {
			binding, which = other.v, other.name
		}
	}
	fmt.Printf("creating %d organizations at once:\n", n)
	fmt.Printf("  all Ready in %s: %.1f orgs/s\n", elapsed.Round(time.Millisecond), orgRate)
	fmt.Printf("  per organization: %.2f Kubernetes API writes, %.2f MongoDB commands (%.2f writes), %.2f reconciles\n",
		perOrg(d.kubeWrites), perOrg(d.mongoCommands), perOrg(d.mongoWrites), perOrg(d.reconciles))
	fmt.Printf("  a reconcile took %.1f ms on average and waited %.1f ms in the queue\n",
		1000*d.reconcileSeconds/d.reconciles, 1000*d.queueSeconds/max(d.queued, 1))
	fmt.Printf("  CPU while creating: %s\n", shares(cpu0, cpu1, elapsed))
	fmt.Printf("  CPU time per created organization: %s\n", perOrganization(cpu0, cpu1, n))
	fmt.Printf("  orgs/s / apiserver raw writes/s = %.4f\n", orgRate/c.kubeWritesPerSec)
	fmt.Printf("  ceilings in orgs/s, an organization's writes replayed without the operator: apiserver %.1f, store %.1f, "+
		"both together %.1f, hashing %.0f\n", apiCeiling, storeCeiling, c.machinePerSec, hashCeiling)
	fmt.Printf("    (from the raw rates instead: apiserver %.1f if each write cost a ConfigMap create, store %.1f if each cost a point write)\n",
		c.kubeWritesPerSec/(perOrg(d.kubeWrites)+1), c.storeWritesPerSec/perOrg(d.mongoWrites))
	fmt.Printf("  binding: %s; ratio orgs/s / binding ceiling = %.2f (to the apiserver's alone %.2f, the store's alone %.2f)\n",
		which, orgRate/binding, orgRate/apiCeiling, orgRate/storeCeiling)
	fmt.Printf("  create->Ready: p50 %s, p99 %s, max %s\n", percentile(lat, 0.5).Round(time.Millisecond),
		percentile(lat, 0.99).Round(time.Millisecond), percentile(lat, 1).Round(time.Millisecond))
	return nil
}

// idlePhase measures one resync period (plus 10% jitter) with N Ready and
// nothing changing: commands and writes, and the CPU of the manager and the store.
func idlePhase(e *benchEnv, n int) error {
	time.Sleep(5 * time.Second)
	before, err := e.scrape()
	if err != nil {
		return err
	}
	mcpu0, err1 := proc.CPUTime(e.manager.Pid())
	scpu0, err2 := proc.CPUTime(e.store.Pid())
	if err1 != nil || err2 != nil {
		return fmt.Errorf("reading CPU time: %v %v", err1, err2)
	}
	window := max(e.resync*11/10, 60*time.Second)
	time.Sleep(window)
	after, err := e.scrape()
	if err != nil {
		return err
	}
	mcpu1, _ := proc.CPUTime(e.manager.Pid())
	scpu1, _ := proc.CPUTime(e.store.Pid())
	d := after.minus(before)
	periods := window.Seconds() / e.resync.Seconds()
	fmt.Printf("idle, %d Ready, over %s (%.1f resync periods):\n", n, window, periods)
	fmt.Printf("  per resync period: %.1f MongoDB commands (%.0f writes), %.0f Kubernetes API writes, %.0f reconciles\n",
		d.mongoCommands/periods, d.mongoWrites/periods, d.kubeWrites/periods, d.reconciles/periods)
	fmt.Printf("  amortised per organization: %.5f MongoDB commands per period\n", d.mongoCommands/periods/float64(n))
	if spread {
		for _, b := range []string{mongostore.DefaultBackend, secondBackend} {
			fmt.Printf("  backend %s: %.1f MongoDB commands per resync period\n", b, d.byBackend[b]/periods)
		}
	}
	fmt.Printf("  CPU: manager %.2f%% of a core, store %.2f%% of a core\n",
		100*(mcpu1-mcpu0).Seconds()/window.Seconds(), 100*(scpu1-scpu0).Seconds()/window.Seconds())
	return nil
}

// probePhase times single new organizations at N: alone, then while a
// backlog of drift repairs (N/10 admin records deleted) is being worked off.
func probePhase(ctx context.Context, e *benchEnv, r *readiness, n, probes int) error {
	alone, err := probe(ctx, e, r, "probe-idle", probes)
	if err != nil {
		return err
	}
	report := func(what string, lat []time.Duration) {
		fmt.Printf("  %s: p50 %s, p99 %s (%d samples)\n", what, percentile(lat, 0.5).Round(time.Millisecond),
			percentile(lat, 0.99).Round(time.Millisecond), len(lat))
	}
	fmt.Printf("one new organization while %d exist, create->Ready:\n", n)
	report("alone", alone)

	store, err := mongostore.Connect(mongostore.Options{URI: e.storeURI})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close(ctx) }()
	drifted := n / 10
	for i := range drifted {
		if _, err := store.DeleteAdmin(ctx, fmt.Sprintf("org-%05d", i*10)); err != nil {
			return err
		}
	}
	// Wait for the next bulk observation to queue the repairs.
	base, err := e.scrape()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(e.resync * 2)
	for {
		now, err := e.scrape()
		if err != nil {
			return err
		}
		if now.mongoWrites-base.mongoWrites > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	during, err := probe(ctx, e, r, "probe-backlog", probes)
	if err != nil {
		return err
	}
	repaired, err := store.CountDocuments(ctx, mongostore.AdminsCollection, nil)
	if err != nil {
		return err
	}
	report(fmt.Sprintf("while %d drifted tenants are repaired", drifted), during)
	fmt.Printf("  (admin records when the last probe was Ready: %d of %d)\n", repaired, n+2*probes)
	return nil
}

// probe creates organizations one at a time and times each to Ready.
func probe(ctx context.Context, e *benchEnv, r *readiness, prefix string, count int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, count)
	for i := range count {
		name := fmt.Sprintf("%s-%03d", prefix, i)
		start := time.Now()
		if err := e.k8s.Create(ctx, newOrg(name)); err != nil {
			return nil, err
		}
		if err := r.waitAll([]string{name}, 5*time.Minute); err != nil {
			return nil, err
		}
		lat = append(lat, r.readyAt(name).Sub(start))
	}
	return lat, nil
}

func describe(m map[string]time.Duration) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	out := ""
	for _, k := range names {
		out += fmt.Sprintf("%s %s, ", k, m[k].Round(100*time.Microsecond))
	}
	return strings.TrimSuffix(out, ", ")
}

func saveProfile(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // copied below; nothing to report
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// controlPlaneFootprint prints the kube-apiserver's RSS and etcd's database
// size with the tenants in place, and what the tenants added to the latter
// per tenant (their Organizations, Secrets, events and the history etcd
// keeps until the apiserver compacts it).
func controlPlaneFootprint(e *benchEnv, etcdBase int64, tenants int) error {
	rss, err := e.apiserverRSS()
	if err != nil {
		return err
	}
	db, err := e.etcdDBSize()
	if err != nil {
		return err
	}
	fmt.Printf("control plane with %d tenants: kube-apiserver RSS %.1f MiB; etcd database %.1f MiB (quota 2 GiB by default), %.1f KiB per tenant added\n",
		tenants, float64(rss)/(1<<20), float64(db)/(1<<20), float64(db-etcdBase)/1024/float64(tenants))
	return nil
}
