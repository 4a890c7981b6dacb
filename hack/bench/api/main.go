// Command api-bench measures the REST API against the real test control
// plane, FerretDB and the controller, over real HTTP on loopback. It prints,
// in one run: login requests/s beside the hashing limit (cores / the time of
// one argon2id hash, measured here), and authenticated
// GET /v1/organizations/{name} requests/s beside a bare net/http handler
// and beside the store's raw point reads by _id (of a session document, the
// read an authenticated request costs) with the same concurrency.
//
//	make bench-api
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"github.com/org-operator/org-operator/internal/password"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long each load phase runs")
	clients := flag.Int("clients", 8, "concurrent HTTP clients")
	flag.Parse()
	if err := run(*duration, *clients); err != nil {
		fmt.Fprintln(os.Stderr, "api-bench:", err)
		os.Exit(1)
	}
}

func run(d time.Duration, clients int) error {
	ctx := context.Background()
	env, err := testenv.StartEnvironment(testenv.EnvironmentOptions{Database: "bench"})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	k8s, ns := env.Client, env.CredentialsNamespace
	apiCfg := restapi.DefaultConfig()
	apiCfg.LoginRate, apiCfg.LoginBurst = 1e6, 1e6 // measure the server, not the limiter
	mgr, err := env.StartInProcessManager(testenv.Options{API: &apiCfg})
	if err != nil {
		return err
	}
	defer func() { _ = mgr.Stop() }()

	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: tenancyv1alpha1.OrganizationSpec{Admin: tenancyv1alpha1.AdminSpec{Email: "admin@bench.example"}}}
	if err := k8s.Create(ctx, org); err != nil {
		return err
	}
	if _, err := convergence.Wait(ctx, k8s, "bench", time.Minute); err != nil {
		return err
	}
	secret := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancyv1alpha1.CredentialsSecretName("bench")}, secret); err != nil {
		return err
	}
	loginBody, _ := json.Marshal(map[string]string{"email": "admin@bench.example", "password": string(secret.Data[tenancyv1alpha1.SecretKeyPassword])})

	hashTime := medianHashTime(7)
	hashLimit := float64(runtime.GOMAXPROCS(0)) / hashTime.Seconds()

	loginRate, loginCodes := load(d, clients, func(c *http.Client) int {
		return post(c, mgr.APIURL+"/v1/auth/login", loginBody)
	})

	resp := post(http.DefaultClient, mgr.APIURL+"/v1/auth/login", loginBody)
	if resp != http.StatusOK {
		return fmt.Errorf("login for the GET phase answered %d", resp)
	}
	token, err := loginToken(mgr.APIURL, loginBody)
	if err != nil {
		return err
	}
	stopProfile, err := profile(os.Getenv("BENCH_CPUPROFILE")) // diagnosis: the GET phase's CPU profile
	if err != nil {
		return err
	}
	getRate, getCodes := load(d, clients, func(c *http.Client) int {
		return get(c, mgr.APIURL+"/v1/organizations/bench", token)
	})
	stopProfile()

	readRate, err := pointReads(ctx, env.Mongo.URI(), env.Database, d, clients)
	if err != nil {
		return err
	}

	body := []byte(`{"name":"bench","ready":true}`)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer bare.Close()
	bareRate, _ := load(d, clients, func(c *http.Client) int { return get(c, bare.URL+"/v1/organizations/bench", token) })

	fmt.Printf("api-bench: GOMAXPROCS=%d, %d clients, %s per phase, FerretDB (SQLite), argon2id 19 MiB t=2 p=1\n",
		runtime.GOMAXPROCS(0), clients, d)
	fmt.Printf("  one argon2id hash:                  %8.1f ms (median of 7)\n", float64(hashTime.Microseconds())/1000)
	fmt.Printf("  hashing limit (cores / hash time):  %8.1f logins/s\n", hashLimit)
	fmt.Printf("  login:                              %8.1f req/s  (statuses %v)\n", loginRate, loginCodes)
	fmt.Printf("  ratio login / hashing limit:        %8.3f\n", loginRate/hashLimit)
	fmt.Printf("  authenticated GET organization:     %8.1f req/s  (statuses %v)\n", getRate, getCodes)
	fmt.Printf("  bare net/http handler:              %8.1f req/s\n", bareRate)
	fmt.Printf("  ratio GET / bare handler:           %8.3f\n", getRate/bareRate)
	fmt.Printf("  store raw point reads (_id):        %8.1f reads/s\n", readRate)
	fmt.Printf("  ratio GET / store point reads:      %8.3f  (1.0 would be one store read per request and nothing else)\n", getRate/readRate)
	return nil
}

// pointReads finds the newest session document by _id from clients goroutines
// for d, through its own MongoDB client, and returns reads/s.
func pointReads(ctx context.Context, uri, database string, d time.Duration, clients int) (float64, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Disconnect(ctx) }()
	sessions := c.Database(database).Collection("sessions")
	// The newest session is the GET phase's own (logged in last): the same
	// document, at the same place in the collection, as the API reads.
	var doc bson.M
	newest := options.FindOne().SetSort(bson.D{{Key: "createdAt", Value: -1}})
	if err := sessions.FindOne(ctx, bson.D{}, newest).Decode(&doc); err != nil {
		return 0, fmt.Errorf("a session to read: %w", err)
	}
	byID := bson.D{{Key: "_id", Value: doc["_id"]}}
	var reads atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if sessions.FindOne(ctx, byID).Err() == nil {
					reads.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(reads.Load()) / time.Since(start).Seconds(), nil
}

func medianHashTime(n int) time.Duration {
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		_, _ = password.Hash("benchmark password", password.DefaultParams)
		times[i] = time.Since(start)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[n/2]
}

// load runs f from clients goroutines for d and returns successful requests/s
// and the count of each status.
func load(d time.Duration, clients int, f func(*http.Client) int) (float64, map[int]int64) {
	var ok atomic.Int64
	var mu sync.Mutex
	codes := map[int]int64{}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			local := map[int]int64{}
			for time.Now().Before(deadline) {
				code := f(c)
				local[code]++
				if code == http.StatusOK {
					ok.Add(1)
				}
			}
			mu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds(), codes
}

func post(c *http.Client, url string, body []byte) int {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func get(c *http.Client, url, token string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func loginToken(base string, body []byte) (string, error) {
	resp, err := http.Post(base+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // decoded below; nothing to report
	var p restapi.TokenPair
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return "", err
	}
	return p.AccessToken, nil
}

// profile starts a CPU profile into file (nothing when file is "") and
// returns what stops it.
func profile(file string) (func(), error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close() // the profile is diagnosis only
	}, nil
}
