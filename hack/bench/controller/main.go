// Command controller-bench measures the Organization controller against the
// real test control plane (envtest) and FerretDB: it creates N Organizations,
// waits until all are Ready, and prints orgs/s, Kubernetes API writes per org
// and MongoDB commands per org, beside the same apiserver's raw write rate and
// the argon2id hashing rate measured in the same run, so the ratios show what
// bounds the controller.
//
//	make bench-controller N=200
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/ferretdb"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

func main() {
	n := flag.Int("n", 200, "number of Organizations to create")
	workers := flag.Int("workers", 4, "max concurrent reconciles (and concurrent raw writers)")
	backend := flag.String("backend", "sqlite", "FerretDB backend: sqlite or postgresql")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL for -backend postgresql")
	flag.Parse()
	if err := run(*n, *workers, ferretdb.Backend(*backend), *pgURL); err != nil {
		fmt.Fprintln(os.Stderr, "controller-bench:", err)
		os.Exit(1)
	}
}

func run(n, workers int, backend ferretdb.Backend, pgURL string) error {
	ctx := context.Background()
	env, err := testenv.StartEnvironment(testenv.EnvironmentOptions{Database: "bench",
		Mongo: ferretdb.Options{Backend: backend, PostgreSQLURL: pgURL}})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	k8s, ns := env.Client, env.CredentialsNamespace

	rawRate, err := rawWriteRate(ctx, k8s, ns, n, workers)
	if err != nil {
		return err
	}
	hashRate := hashingRate(workers)

	mgr, err := env.StartInProcessManager(testenv.Options{MaxConcurrentReconciles: workers, ServerSelectionTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer func() { _ = mgr.Stop() }()

	start := time.Now()
	if err := parallel(n, workers, func(i int) error {
		return k8s.Create(ctx, &tenancyv1alpha1.Organization{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%04d", i)},
			Spec:       tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: fmt.Sprintf("admin-%d@bench.example", i)}},
		})
	}); err != nil {
		return err
	}
	if err := waitAllReady(ctx, k8s, n, 30*time.Minute); err != nil {
		return err
	}
	elapsed := time.Since(start)
	orgRate := float64(n) / elapsed.Seconds()
	apiWrites := float64(mgr.KubeWrites.Count()) / float64(n)
	mongoOps := float64(mgr.Commands.Count()) / float64(n)
	mongoWrites := float64(mgr.Commands.Writes()) / float64(n)

	fmt.Printf("controller-bench: N=%d, max concurrent reconciles=%d, FerretDB backend=%s, GOMAXPROCS=%d\n",
		n, workers, backend, runtime.GOMAXPROCS(0))
	fmt.Printf("  orgs to Ready:                 %8.2f orgs/s   (%d in %s)\n", orgRate, n, elapsed.Round(time.Millisecond))
	fmt.Printf("  Kubernetes API writes per org: %8.2f\n", apiWrites)
	fmt.Printf("  MongoDB commands per org:      %8.2f   (of which writes %.2f)\n", mongoOps, mongoWrites)
	fmt.Printf("  apiserver raw write rate:      %8.2f writes/s (ConfigMap creates, %d writers)\n", rawRate, workers)
	fmt.Printf("  argon2id hashing rate:         %8.2f hashes/s (%d parallel, 19 MiB, t=2, p=1)\n", hashRate, workers)
	fmt.Printf("  ratio: controller API write rate / raw write rate = %.3f\n", orgRate*apiWrites/rawRate)
	fmt.Printf("  ratio: orgs/s / hashes/s (one hash per new org)   = %.3f\n", orgRate/hashRate)
	return nil
}

// rawWriteRate creates n ConfigMaps with the given concurrency and returns writes/s.
func rawWriteRate(ctx context.Context, k8s client.Client, ns string, n, workers int) (float64, error) {
	start := time.Now()
	err := parallel(n, workers, func(i int) error {
		return k8s.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("raw-%04d", i)},
			Data:       map[string]string{"k": "v"},
		})
	})
	return float64(n) / time.Since(start).Seconds(), err
}

// hashingRate measures argon2id hashes/s with the given parallelism.
func hashingRate(workers int) float64 {
	const perWorker = 5
	start := time.Now()
	_ = parallel(workers*perWorker, workers, func(int) error {
		_, err := password.Hash("benchmark password", password.DefaultParams)
		return err
	})
	return float64(workers*perWorker) / time.Since(start).Seconds()
}

func parallel(n, workers int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

func waitAllReady(ctx context.Context, k8s client.Client, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var list tenancyv1alpha1.OrganizationList
		if err := k8s.List(ctx, &list); err != nil {
			return err
		}
		ready := 0
		for _, o := range list.Items {
			if convergence.Check(&o) == nil {
				ready++
			}
		}
		if ready == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d organizations Ready after %s", ready, n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
