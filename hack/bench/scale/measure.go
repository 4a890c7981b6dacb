package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/operator"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/testsupport/check"
)

// counters is what the manager's metrics endpoint says it sent so far.
type counters struct {
	kubeWrites    float64 // POST, PUT, PATCH, DELETE to the kube-apiserver
	mongoCommands float64
	mongoWrites   float64
	reconciles    float64
	// reconcileSeconds and queueSeconds sum the time reconciles took and
	// the time requests waited in the queue.
	reconcileSeconds float64
	queueSeconds     float64
	queued           float64
	// byBackend counts MongoDB commands by deployment (the backend label).
	byBackend map[string]float64
}

func (c counters) minus(o counters) counters {
	by := map[string]float64{}
	for b, v := range c.byBackend {
		by[b] = v - o.byBackend[b]
	}
	return counters{c.kubeWrites - o.kubeWrites, c.mongoCommands - o.mongoCommands, c.mongoWrites - o.mongoWrites, c.reconciles - o.reconciles,
		c.reconcileSeconds - o.reconcileSeconds, c.queueSeconds - o.queueSeconds, c.queued - o.queued, by}
}

// heap is the manager's Go heap as its metrics report it: live objects
// (go_memstats_heap_alloc_bytes, which includes garbage not yet collected)
// and the spans holding them (go_memstats_heap_inuse_bytes).
func (e *benchEnv) heap() (alloc, inuse float64, err error) {
	families, err := check.Scrape(context.Background(), nil, e.metricsURL)
	if err != nil {
		return 0, 0, err
	}
	for _, m := range families["go_memstats_heap_alloc_bytes"].GetMetric() {
		alloc = m.GetGauge().GetValue()
	}
	for _, m := range families["go_memstats_heap_inuse_bytes"].GetMetric() {
		inuse = m.GetGauge().GetValue()
	}
	return alloc, inuse, nil
}

// scrape reads the manager's Prometheus metrics.
func (e *benchEnv) scrape() (counters, error) {
	families, err := check.Scrape(context.Background(), nil, e.metricsURL)
	if err != nil {
		return counters{}, err
	}
	c := counters{byBackend: map[string]float64{}}
	writes := map[string]bool{http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true}
	for _, m := range families["rest_client_requests_total"].GetMetric() {
		if writes[label(m.GetLabel(), "method")] {
			c.kubeWrites += m.GetCounter().GetValue()
		}
	}
	for _, m := range families["org_operator_mongodb_commands_total"].GetMetric() {
		v := m.GetCounter().GetValue()
		c.mongoCommands += v
		c.byBackend[label(m.GetLabel(), "backend")] += v
		if slices.Contains(mongostore.WriteCommands, label(m.GetLabel(), "command")) {
			c.mongoWrites += v
		}
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		c.reconciles += m.GetCounter().GetValue()
	}
	for _, m := range families["controller_runtime_reconcile_time_seconds"].GetMetric() {
		c.reconcileSeconds += m.GetHistogram().GetSampleSum()
	}
	for _, m := range families["workqueue_queue_duration_seconds"].GetMetric() {
		c.queueSeconds += m.GetHistogram().GetSampleSum()
		c.queued += float64(m.GetHistogram().GetSampleCount())
	}
	return c, nil
}

func label(labels []*dto.LabelPair, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// readiness watches Organizations and records when each first became Ready
// for its generation.
type readiness struct {
	mu    sync.Mutex
	ready map[string]time.Time
}

func (e *benchEnv) watchReadiness(ctx context.Context) (*readiness, error) {
	wc, err := client.NewWithWatch(e.cp.Config, client.Options{Scheme: operator.Scheme})
	if err != nil {
		return nil, err
	}
	r := &readiness{ready: map[string]time.Time{}}
	go func() {
		for ctx.Err() == nil {
			w, err := wc.Watch(ctx, &tenancyv1alpha1.OrganizationList{})
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			r.consume(w)
		}
	}()
	return r, nil
}

func (r *readiness) consume(w watch.Interface) {
	defer w.Stop()
	for ev := range w.ResultChan() {
		org, ok := ev.Object.(*tenancyv1alpha1.Organization)
		if !ok || ev.Type == watch.Deleted {
			continue
		}
		if convergence.Check(org) == nil {
			r.mu.Lock()
			if _, seen := r.ready[org.Name]; !seen {
				r.ready[org.Name] = time.Now()
			}
			r.mu.Unlock()
		}
	}
}

// readyAt is when name became Ready (zero when it has not).
func (r *readiness) readyAt(name string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready[name]
}

// waitAll waits until every name is Ready.
func (r *readiness) waitAll(names []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		missing := 0
		for _, n := range names {
			if r.readyAt(n).IsZero() {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d organizations not Ready after %s", missing, len(names), limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newOrg(name string) *tenancyv1alpha1.Organization {
	return &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@" + name + ".example"}}}
}

// mixedOrg is the i-th organization of the creation phase: Dedicated for
// the first dedicated ones, then alternately Shared and Auto; with
// -backends 2 every other pair names the second deployment.
func mixedOrg(name string, i, dedicated int) *tenancyv1alpha1.Organization {
	org := newOrg(name)
	if spread && (i/2)%2 == 1 { // pairs alternate, so each deployment gets Shared and Auto ones
		org.Spec.Backend = secondBackend
	}
	switch {
	case i < dedicated:
		org.Spec.Tenancy = tenancyv1alpha1.TenancyDedicated
	case i%2 == 0:
		org.Spec.Tenancy = tenancyv1alpha1.TenancyShared
	default:
		org.Spec.Tenancy = tenancyv1alpha1.TenancyAuto
	}
	return org
}

// parallel runs f(i) for i in [0, n) with w workers and returns the first error.
func parallel(n, w int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(w)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

// ceilings are the raw rates of the systems an organization's creation
// needs, measured in the same run with the same concurrency.
type ceilings struct {
	kubeWritesPerSec  float64 // the apiserver: ConfigMap creates
	storeWritesPerSec float64 // the store: single-document inserts
	fastHashesPerSec  float64 // generated passwords: salted SHA-256
	argonHashesPerSec float64 // chosen passwords: argon2id, one per core
	orgWritesPerSec   float64 // an organization's Kubernetes API writes, replayed: orgs/s
	storeOrgsPerSec   float64 // an organization's store writes, replayed: orgs/s
	machinePerSec     float64 // both replayed together: orgs/s
}

func (e *benchEnv) measureCeilings(ctx context.Context, writers int) (ceilings, error) {
	var c ceilings
	const kubeN = 2000
	start := time.Now()
	err := parallel(kubeN, writers, func(i int) error {
		return e.k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: credentialsNamespace,
			Name: fmt.Sprintf("raw-%05d", i)}, Data: map[string]string{"k": "v"}})
	})
	if err != nil {
		return c, err
	}
	c.kubeWritesPerSec = kubeN / time.Since(start).Seconds()
	store, err := mongostore.Connect(mongostore.Options{URI: e.storeURI, Database: "rawbench"})
	if err != nil {
		return c, err
	}
	defer func() { _ = store.Close(ctx) }()
	const storeN = 3000
	start = time.Now()
	if err := parallel(storeN, writers, func(i int) error {
		return store.InsertOne(ctx, "raw", map[string]any{"_id": i, "v": "x"})
	}); err != nil {
		return c, err
	}
	c.storeWritesPerSec = storeN / time.Since(start).Seconds()
	// The store writes one organization takes: its collection and its admin record.
	start = time.Now()
	if err := parallel(storeN/2, writers, func(i int) error {
		name := fmt.Sprintf("replay-%05d", i)
		if _, err := store.CreateLocation(ctx, mongostore.Location{Collection: tenancyv1alpha1.DedicatedCollection(name)}); err != nil {
			return err
		}
		return store.CreateAdmin(ctx, mongostore.Admin{ID: name, Organization: name, Email: name + "@replay.example", PasswordHash: "x"})
	}); err != nil {
		return c, err
	}
	c.storeOrgsPerSec = storeN / 2 / time.Since(start).Seconds()
	c.fastHashesPerSec = rate(20000, writers, func() { _, _ = password.HashGenerated("a generated 32-character password") })
	c.argonHashesPerSec = rate(4*writers, writers, func() { _, _ = password.Hash("a chosen password", password.DefaultParams) })
	return c, nil
}

func rate(n, w int, f func()) float64 {
	start := time.Now()
	_ = parallel(n, w, func(int) error { f(); return nil })
	return float64(n) / time.Since(start).Seconds()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// cpuSample is the CPU time used so far by this process and each descendant, by name.
type cpuSample map[string]time.Duration

func sampleCPU() cpuSample {
	s := cpuSample{}
	for _, pid := range append([]int{os.Getpid()}, proc.Descendants(os.Getpid())...) {
		if t, err := proc.CPUTime(pid); err == nil {
			name := proc.Name(pid)
			if pid == os.Getpid() {
				name = "benchmark client"
			}
			s[name] += t
		}
	}
	return s
}

// spent lists each process's CPU time between two samples, largest first,
// leaving out those under 10 ms.
func spent(before, after cpuSample) []processTime {
	var out []processTime
	for name := range after {
		if d := after[name] - before[name]; d > 10*time.Millisecond {
			out = append(out, processTime{name, d})
		}
	}
	slices.SortFunc(out, func(a, b processTime) int { return int(b.cpu - a.cpu) })
	return out
}

type processTime struct {
	name string
	cpu  time.Duration
}

// shares prints each process's share of the machine between two samples.
func shares(before, after cpuSample, window time.Duration) string {
	out := ""
	for _, p := range spent(before, after) {
		out += fmt.Sprintf("%s %.0f%%, ", p.name, 100*p.cpu.Seconds()/window.Seconds())
	}
	return strings.TrimSuffix(out, ", ") + fmt.Sprintf(" (of one core; %d cores)", runtime.NumCPU())
}

// perOrganization prints the CPU time each process spent per created
// organization between two samples (read from /proc), so that the next
// bottleneck shows.
func perOrganization(before, after cpuSample, n int) string {
	out := ""
	for _, p := range spent(before, after) {
		out += fmt.Sprintf("%s %.2f ms, ", p.name, 1000*p.cpu.Seconds()/float64(n))
	}
	return strings.TrimSuffix(out, ", ")
}

// replay performs, with w workers and no operator running, the external
// work that creating one organization takes, for n organizations: the
// platform's create, then what the operator writes to the apiserver (the
// finalizer patch, the credentials Secret, one event, the status patch)
// and, with a store, to MongoDB (the ledger entry, the collection, the admin
// record). Names start with prefix (events are left behind, so each replay
// needs its own). It returns organizations per second and the average time of each
// kind of call, and removes everything it made. With the store, it is the
// machine's ceiling for this workload: apiserver, etcd and store sharing the
// CPUs as they do under the operator, minus the operator's own work.
func (e *benchEnv) replay(ctx context.Context, prefix string, n, w int, store *mongostore.Store) (float64, map[string]time.Duration, error) {
	var mu sync.Mutex
	spent, calls := map[string]time.Duration{}, map[string]int{}
	timed := func(what string, f func() error) error {
		start := time.Now()
		err := f()
		mu.Lock()
		spent[what] += time.Since(start)
		calls[what]++
		mu.Unlock()
		return err
	}
	name := func(i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }
	start := time.Now()
	err := parallel(n, w, func(i int) error { return e.replayOne(ctx, name(i), store, timed) })
	elapsed := time.Since(start)
	if err != nil {
		return 0, nil, err
	}
	err = parallel(n, w, func(i int) error { return e.unreplay(ctx, name(i), store) })
	for k, v := range spent {
		spent[k] = v / time.Duration(calls[k])
	}
	return float64(n) / elapsed.Seconds(), spent, err
}

// replayOne does one organization's external work (see replay).
func (e *benchEnv) replayOne(ctx context.Context, name string, store *mongostore.Store, timed func(string, func() error) error) error {
	org := newOrg(name)
	if err := timed("create Organization", func() error { return e.k8s.Create(ctx, org) }); err != nil {
		return err
	}
	base := org.DeepCopy()
	org.Finalizers = []string{tenancyv1alpha1.Finalizer}
	if err := timed("patch finalizer", func() error {
		return e.k8s.Patch(ctx, org, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	}); err != nil {
		return err
	}
	l := mongostore.Location{Collection: tenancyv1alpha1.DedicatedCollection(name)}
	if store != nil {
		if err := timed("store: claim + create collection", func() error {
			if err := store.ClaimLocation(ctx, mongostore.NewLedgerEntry(l, name, string(org.UID), "replay", time.Now())); err != nil {
				return err
			}
			_, err := store.CreateLocation(ctx, l)
			return err
		}); err != nil {
			return err
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(name)},
		Data: map[string][]byte{tenancyv1alpha1.SecretKeyPassword: []byte("x"), tenancyv1alpha1.SecretKeyEmail: []byte("y"),
			tenancyv1alpha1.SecretKeyOrganization: []byte(name)}}
	if err := timed("create Secret", func() error { return e.k8s.Create(ctx, secret) }); err != nil {
		return err
	}
	if store != nil {
		if err := timed("store: insert admin", func() error {
			return store.CreateAdmin(ctx, mongostore.Admin{ID: name, Organization: name, Email: name + "@replay.example", PasswordHash: "x"})
		}); err != nil {
			return err
		}
	}
	for j := range 1 { // the one Provisioned event
		ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: fmt.Sprintf("%s.%d", name, j)},
			EventTime: metav1.NowMicro(), ReportingController: "bench", ReportingInstance: "bench", Action: "Create", Reason: "Replay",
			Regarding: corev1.ObjectReference{Kind: "Organization", Name: name, APIVersion: tenancyv1alpha1.GroupVersion.String()},
			Type:      corev1.EventTypeNormal, Note: "replayed"}
		if err := timed("create Event", func() error { return e.k8s.Create(ctx, ev) }); err != nil {
			return err
		}
	}
	base = org.DeepCopy()
	org.Status.ObservedGeneration = org.Generation
	org.Status.Collection, org.Status.Database = l.Collection, "orgs"
	org.Status.Conditions = []metav1.Condition{{Type: tenancyv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: tenancyv1alpha1.ReasonSucceeded, Message: "replayed", LastTransitionTime: metav1.Now(), ObservedGeneration: org.Generation}}
	return timed("patch status", func() error { return e.k8s.Status().Patch(ctx, org, client.MergeFrom(base)) })
}

// unreplay removes what replayOne made, leaving nothing for the operator to find.
func (e *benchEnv) unreplay(ctx context.Context, name string, store *mongostore.Store) error {
	org := &tenancyv1alpha1.Organization{}
	if err := e.k8s.Get(ctx, client.ObjectKey{Name: name}, org); err != nil {
		return err
	}
	base := org.DeepCopy()
	org.Finalizers = nil
	if err := e.k8s.Patch(ctx, org, client.MergeFrom(base)); err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(name)}}
	errs := []error{e.k8s.Delete(ctx, org), e.k8s.Delete(ctx, secret)}
	if store != nil {
		l := mongostore.Location{Collection: tenancyv1alpha1.DedicatedCollection(name)}
		_, derr := store.DropCollection(ctx, l.Collection)
		_, aerr := store.DeleteAdmin(ctx, name)
		errs = append(errs, derr, aerr, store.ReleaseLocation(ctx, l, "replay"))
	}
	return errors.Join(errs...)
}
