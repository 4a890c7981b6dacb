// Command soak runs a steady mixed workload against the `make dev`
// environment (etcd, kube-apiserver, FerretDB and the real manager binary,
// each its own process) for a long time and prints, every sample interval,
// the manager's resident memory, goroutines, open sockets and reconcile
// latency. At the end it fits a line through the last half of each series
// and fails if one still grows (a leak), and it checks the workload's
// invariants (internal/testsupport/workload) once more.
//
//	make bench-soak DURATION=30m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	seeding "github.com/org-operator/org-operator/internal/testsupport/seed"
	"github.com/org-operator/org-operator/internal/testsupport/workload"
)

func main() {
	duration := flag.Duration("duration", 30*time.Minute, "how long the workload runs")
	sample := flag.Duration("sample", time.Minute, "how often the manager is measured")
	population := flag.Int("orgs", 40, "organizations kept alive (created and deleted around this number)")
	pace := flag.Duration("pace", 500*time.Millisecond, "pause between two workload actions")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "workload seed")
	flag.Parse()
	if err := run(*duration, *sample, *population, *pace, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// soak is the running benchmark.
type soak struct {
	env        *devenv.Env
	drv        *workload.Driver
	rng        *rand.Rand
	metricsURL string
	population int
	seq        int
	// per sample interval
	ops        int
	readyTimes []time.Duration
	failures   []string
}

func run(duration, sample time.Duration, population int, pace time.Duration, seed uint64) (err error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "org-operator-soak-")
	if err != nil {
		return err
	}
	apiPort, mongoPort, metricsPort := proc.MustFreePort(), proc.MustFreePort(), proc.MustFreePort()
	wd, _ := os.Getwd()
	env, err := devenv.Start(ctx, devenv.Options{
		Root: wd, StateDir: dir, APIPort: apiPort, MongoPort: mongoPort, SecondMongoPort: proc.MustFreePort(),
		ManagerArgs: append(devenv.ManagerAPIArgs(apiPort),
			"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(metricsPort), "--metrics-secure=false",
			"--api-login-rate=10000", "--api-login-burst=10000", "--api-write-rate=1000", "--api-write-burst=1000",
			"--api-lockout-threshold=100000", "--api-lockout-global-threshold=0", "--api-change-timeout=5s"),
	})
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, env.Stop())
		if err == nil {
			err = os.RemoveAll(dir)
		} else {
			fmt.Printf("logs kept in %s\n", dir)
		}
	}()
	k8s, err := client.New(env.Config(), client.Options{Scheme: operator.Scheme})
	if err != nil {
		return err
	}
	db, err := check.ConnectMongo(env.MongoURI, "orgs")
	if err != nil {
		return err
	}
	sd, err := seeding.ConnectMongo(env.MongoURI, "orgs")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close(ctx); _ = sd.Close(ctx) }()
	s := &soak{env: env, rng: rand.New(rand.NewPCG(seed, seed)), population: population,
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		drv: &workload.Driver{K8s: k8s, DB: db, Writer: sd, APIURL: env.APIURL, Shared: tenancyv1alpha1.DefaultSharedCollection,
			CredentialsNamespace: devenv.CredentialsNamespace, Model: workload.NewModel()}}
	fmt.Printf("soak: %s, %d organizations, one action every %s, seed %d, manager pid %d (state in %s)\n",
		duration, population, pace, seed, env.ManagerPID(), dir)
	return s.loop(ctx, duration, sample, pace)
}

// loop runs the workload and samples the manager until duration has passed.
func (s *soak) loop(ctx context.Context, duration, sample, pace time.Duration) error {
	rss := series{name: "manager RSS", unit: mib, minGrowth: 16 << 20, relGrowth: 0.10}
	gor := series{name: "goroutines", unit: count, minGrowth: 20, relGrowth: 0.10}
	socks := series{name: "open sockets", unit: count, minGrowth: 10, relGrowth: 0.20}
	lat := series{name: "reconcile latency (mean)", unit: millis, minGrowth: 0.020, relGrowth: 0.50}
	fmt.Printf("%6s %10s %10s %8s %14s %11s %6s %14s\n", "minute", "RSS", "goroutines", "sockets", "reconcile mean", "reconciles", "ops", "new org Ready")
	start, next := time.Now(), time.Now().Add(sample)
	prev, err := s.scrape()
	if err != nil {
		return err
	}
	for time.Since(start) < duration {
		if err := s.step(ctx); err != nil {
			s.failures = append(s.failures, err.Error())
			fmt.Println("  workload error:", err)
		}
		time.Sleep(pace)
		if time.Now().Before(next) {
			continue
		}
		next = next.Add(sample)
		m, err := s.scrape()
		if err != nil {
			return err
		}
		r, _, err := proc.RSS(s.env.ManagerPID())
		if err != nil {
			return err
		}
		n, err := proc.OpenSockets(s.env.ManagerPID())
		if err != nil {
			return err
		}
		mean := 0.0
		if d := m.reconciles - prev.reconciles; d > 0 {
			mean = (m.reconcileSeconds - prev.reconcileSeconds) / d
		}
		rss.values, gor.values = append(rss.values, float64(r)), append(gor.values, m.goroutines)
		socks.values, lat.values = append(socks.values, float64(n)), append(lat.values, mean)
		fmt.Printf("%6.1f %10s %10.0f %8d %14s %11.0f %6d %14s\n", time.Since(start).Minutes(), mib(float64(r)), m.goroutines, n,
			millis(mean), m.reconciles-prev.reconciles, s.ops, median(s.readyTimes))
		prev, s.ops, s.readyTimes = m, 0, nil
	}
	return s.verdict(ctx, []series{rss, gor, socks, lat})
}

// verdict checks the invariants once the workload stops and reports the fits.
func (s *soak) verdict(ctx context.Context, all []series) error {
	c := s.drv.Checker()
	violations := c.WaitConverged(ctx, s.drv.Model, 3*time.Minute)
	violations = append(violations, c.Logins(ctx, s.drv.Model)...)
	fmt.Printf("\nworkload: %d live organizations, %d deleted, %d action errors; invariants: %d violations\n",
		len(s.drv.Model.Names()), len(s.drv.Model.Deleted()), len(s.failures), len(violations))
	for _, v := range violations {
		fmt.Println("  ", v)
	}
	var errs []error
	for _, sr := range all {
		fmt.Println(sr.verdict())
		if _, leaking := sr.leak(); leaking {
			errs = append(errs, fmt.Errorf("%s keeps growing", sr.name))
		}
	}
	if len(violations) > 0 {
		errs = append(errs, fmt.Errorf("%d invariant violations", len(violations)))
	}
	if len(s.failures) > 0 {
		errs = append(errs, fmt.Errorf("%d workload actions failed", len(s.failures)))
	}
	return errors.Join(errs...)
}

// step performs one workload action: below the population a creation
// (timed to Ready, then documents); otherwise a deletion, a tenancy switch,
// a rename, a password rotation (Secret or API) or a session.
func (s *soak) step(ctx context.Context) error {
	s.ops++
	live := s.seeded()
	if len(s.drv.Model.Names()) < s.population {
		return s.create(ctx)
	}
	if len(live) == 0 {
		return nil
	}
	pick := live[s.rng.IntN(len(live))]
	switch s.rng.IntN(10) {
	case 0, 1:
		return s.drv.Delete(ctx, pick)
	case 2, 3:
		_, err := s.drv.Flip(ctx, pick)
		return err
	case 4:
		// Waited for like a creation: the admin logs in under the new name
		// only once the take-over is done.
		s.seq++
		to := fmt.Sprintf("soak-r%d", s.seq)
		if err := s.drv.Rename(ctx, pick, to, false); err != nil {
			return err
		}
		return s.waitReady(ctx, to)
	case 5:
		_, err := s.drv.RotateSecret(ctx, pick)
		return err
	case 6:
		return s.drv.RotateAPI(ctx, pick)
	default:
		return s.drv.Session(ctx, pick)
	}
}

// create declares an organization, waits until it is Ready (timed) and
// writes its documents.
func (s *soak) create(ctx context.Context) error {
	s.seq++
	name := fmt.Sprintf("soak-%d", s.seq)
	tenancy := tenancyv1alpha1.TenancyDedicated
	if s.rng.IntN(2) == 0 {
		tenancy = tenancyv1alpha1.TenancyShared
	}
	start := time.Now()
	if err := s.drv.Create(ctx, name, tenancy, tenancyv1alpha1.DeletionPolicyDelete); err != nil {
		return err
	}
	if err := s.waitReady(ctx, name); err != nil {
		return err
	}
	s.readyTimes = append(s.readyTimes, time.Since(start))
	return s.drv.Seed(ctx, name, 20+s.rng.IntN(80))
}

// waitReady waits until name is Ready for its generation.
func (s *soak) waitReady(ctx context.Context, name string) error {
	_, err := convergence.Wait(ctx, s.drv.K8s, name, time.Minute)
	return err
}

// seeded lists live organizations with documents and a known password.
func (s *soak) seeded() []string {
	var out []string
	for _, t := range s.drv.Model.Live() {
		if t.Seeded {
			out = append(out, t.Name)
		}
	}
	return out
}

// metrics is what one scrape of the manager gives.
type metrics struct {
	goroutines, reconciles, reconcileSeconds float64
}

func (s *soak) scrape() (metrics, error) {
	families, err := check.Scrape(context.Background(), nil, s.metricsURL)
	if err != nil {
		return metrics{}, err
	}
	var m metrics
	for _, g := range families["go_goroutines"].GetMetric() {
		m.goroutines += g.GetGauge().GetValue()
	}
	for _, h := range families["controller_runtime_reconcile_time_seconds"].GetMetric() {
		m.reconciles += float64(h.GetHistogram().GetSampleCount())
		m.reconcileSeconds += h.GetHistogram().GetSampleSum()
	}
	return m, nil
}

func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond).String()
}

func mib(v float64) string    { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
func count(v float64) string  { return fmt.Sprintf("%.1f", v) }
func millis(v float64) string { return fmt.Sprintf("%.1f ms", v*1000) }
