//go:build integration

package restapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/proc"
	"github.com/org-operator/org-operator/internal/restapi"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/testenv"
)

// fuzzOperation is one REST operation the fuzzer sends random bodies to.
type fuzzOperation struct {
	name, method, path string
	// authed operations are sent with a valid access token, so decoding is
	// reached behind authentication.
	authed bool
}

// fuzzOperations lists every operation that takes input (jwks and the
// health endpoints take none; GET is included for its path and header).
var fuzzOperations = []fuzzOperation{
	{"login", http.MethodPost, "/v1/auth/login", false},
	{"refresh", http.MethodPost, "/v1/auth/refresh", false},
	{"logout", http.MethodPost, "/v1/auth/logout", true},
	{"signup", http.MethodPost, "/v1/organizations", false},
	{"getOrganization", http.MethodGet, "/v1/organizations/" + fuzzOrg, true},
	{"patchOrganization", http.MethodPatch, "/v1/organizations/" + fuzzOrg, true},
	{"deleteOrganization", http.MethodDelete, "/v1/organizations/" + fuzzOrg, true},
}

// fuzzOrg is declared in Git (field manager fuzzGit owns spec.admin.email),
// so a rename and a delete through the API are refused with 409 and the
// fuzzer cannot remove its own target; displayName is the tenant's.
const (
	fuzzOrg = "fuzz-target"
	fuzzGit = "fuzz-gitops"
)

// fuzzTarget is the environment shared by every input of one fuzz process.
type fuzzTarget struct {
	env            *testenv.Environment
	mgr            *testenv.InProcessManager
	db             *check.Mongo
	email, pass    string
	token, refresh string
}

var (
	fuzzOnce sync.Once
	fuzzEnv  *fuzzTarget
	fuzzErr  error
)

// FuzzRequestDecoding sends random bodies to every operation of the REST API
// (real HTTP, real apiserver, real FerretDB, the controller running) and
// checks that no answer is a 5xx, every rejection is a problem document, and
// a rejected request changed nothing: no Organization's metadata or spec, no
// Secret, no admin record, session or refresh-token record. Failed logins
// are counted in the loginAttempts collection by design (lockout), so that
// collection is left out. Accepted requests may only do what the tenant is
// allowed without its password: a display-name PATCH, a sign-up, a logout.
func FuzzRequestDecoding(f *testing.F) {
	seeds := map[string][]string{
		"login":              {`{"email":"admin@fuzz-target.example","password":"x"}`, `{"email":1}`, `{}`, `[]`, `null`, ``, `{"email":"a@b.c","password":"` + strings.Repeat("p", 129) + `"}`},
		"refresh":            {`{"refresh_token":"abc.def"}`, `{"refresh_token":""}`, `{"refresh_token":null}`, `"x"`},
		"logout":             {`{"refresh_token":"x"}`, `{`, `{"a":{"b":{"c":[1,2,3]}}}`},
		"signup":             {`{"name":"Bad_Name","adminEmail":"a@b.example","password":"long enough pw"}`, `{"name":"ok","adminEmail":"not an email","password":"long enough pw"}`, `{"name":"x","adminEmail":"a@b.example","password":"short"}`},
		"getOrganization":    {``, `{}`},
		"patchOrganization":  {`{}`, `{"displayName":"Fuzzed"}`, `{"name":"other"}`, `{"adminEmail":"x@y.example"}`, `{"password":"new password 123"}`, `{"password":"new password 123","currentPassword":"wrong"}`, `{"displayName":` + `"` + strings.Repeat("d", 201) + `"}`, `{"displayName":"\u0000\ud800"}`},
		"deleteOrganization": {`{}`, `{"currentPassword":"wrong"}`, `{"currentPassword":""}`},
	}
	for i, op := range fuzzOperations {
		for _, s := range seeds[op.name] {
			f.Add(uint8(i), []byte(s), false)
		}
		f.Add(uint8(i), []byte(`{"email":"admin@fuzz-target.example"}`), true)
	}
	t := startFuzzTarget(f)
	f.Fuzz(func(ft *testing.T, op uint8, body []byte, plainText bool) {
		o := fuzzOperations[int(op)%len(fuzzOperations)]
		t.check(ft, o, body, plainText)
	})
}

// startFuzzTarget starts the environment once per process (the fuzzing
// engine runs the fuzz function's set-up in every worker).
func startFuzzTarget(f *testing.F) *fuzzTarget {
	f.Helper()
	fuzzOnce.Do(func() { fuzzEnv, fuzzErr = newFuzzTarget() })
	if fuzzErr != nil {
		f.Fatal(fuzzErr)
	}
	f.Cleanup(func() {
		if fuzzEnv != nil {
			// A fuzzing worker gets one second to exit once told to stop
			// (then SIGINT, then SIGKILL): etcd and kube-apiserver go first,
			// at once, so that none outlives it.
			killChildren()
			_ = fuzzEnv.mgr.Stop()
			_ = fuzzEnv.env.Stop()
		}
	})
	return fuzzEnv
}

func newFuzzTarget() (*fuzzTarget, error) {
	// A fuzzing worker talks to the engine over pipes it inherited; the
	// control plane's processes must not inherit them in turn, or the
	// engine waits for their end forever after the worker exits.
	if err := closeInheritedOnExec(); err != nil {
		return nil, err
	}
	killChildrenOnInterrupt()
	env, err := testenv.StartEnvironment(testenv.EnvironmentOptions{CredentialsNamespace: credNS})
	if err != nil {
		return nil, err
	}
	cfg := restapi.DefaultConfig()
	cfg.Signup = restapi.SignupOpen
	cfg.LoginRate, cfg.LoginBurst = 1e6, 1e6
	cfg.WriteRate, cfg.WriteBurst = 1e6, 1e6
	cfg.SignupMaxPerHour, cfg.SignupMaxTotal = 1e6, 1e6
	// Failed logins must not lock the admin out: the fuzzer logs in again
	// after every accepted logout.
	cfg.Lockout = restapi.LockoutPolicy{Threshold: 1 << 30, GlobalThreshold: 1 << 30, GlobalNetworks: 2, Base: time.Millisecond, Max: time.Millisecond, Window: time.Minute}
	cfg.ChangeTimeout = 10 * time.Second
	mgr, err := env.StartInProcessManager(testenv.Options{API: &cfg})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	t := &fuzzTarget{env: env, mgr: mgr}
	if t.db, err = check.ConnectMongo(env.Mongo.URI(), env.Database); err != nil {
		_ = mgr.Stop()
		_ = env.Stop()
		return nil, err
	}
	if err := t.declare(); err != nil {
		_ = mgr.Stop()
		_ = env.Stop()
		return nil, err
	}
	return t, nil
}

// declare applies fuzzOrg as Git would, waits until it is Ready and logs in.
func (t *fuzzTarget) declare() error {
	ctx := context.Background()
	manifest := fmt.Sprintf(`{"apiVersion":"tenancy.org-operator.io/v1alpha1","kind":"Organization","metadata":{"name":%q},"spec":{"admin":{"email":"admin@%s.example"}}}`, fuzzOrg, fuzzOrg)
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: fuzzOrg}}
	if err := t.env.Client.Patch(ctx, org, client.RawPatch(types.ApplyPatchType, []byte(manifest)), client.FieldOwner(fuzzGit)); err != nil {
		return err
	}
	if err := t.settle(ctx); err != nil {
		return err
	}
	s := &corev1.Secret{}
	if err := t.env.Client.Get(ctx, client.ObjectKey{Namespace: credNS, Name: fuzzOrg + "-admin"}, s); err != nil {
		return err
	}
	t.email, t.pass = string(s.Data[tenancyv1alpha1.SecretKeyEmail]), string(s.Data[tenancyv1alpha1.SecretKeyPassword])
	return t.login(ctx)
}

func (t *fuzzTarget) login(ctx context.Context) error {
	r, err := apiclient.Do(ctx, t.mgr.APIURL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.pass})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("login: %d %s", r.Status, r.Body)
	}
	var p restapi.TokenPair
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return err
	}
	t.token, t.refresh = p.AccessToken, p.RefreshToken
	return nil
}

// settle waits until every Organization is Ready for its generation, so
// that the controller writes nothing while a request is checked.
func (t *fuzzTarget) settle(ctx context.Context) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var list tenancyv1alpha1.OrganizationList
		if err := t.env.Client.List(ctx, &list); err != nil {
			return false, err
		}
		for _, o := range list.Items {
			if o.Status.ObservedGeneration != o.Generation || !meta.IsStatusConditionTrue(o.Status.Conditions, tenancyv1alpha1.ConditionReady) {
				return false, nil
			}
		}
		return len(list.Items) > 0, nil
	})
}

// check sends one request and asserts the properties in FuzzRequestDecoding.
func (t *fuzzTarget) check(ft *testing.T, o fuzzOperation, body []byte, plainText bool) {
	ctx := context.Background()
	before, err := t.snapshot(ctx)
	if err != nil {
		ft.Fatal(err)
	}
	token := ""
	if o.authed {
		token = t.token
	}
	header := http.Header{}
	if plainText {
		header.Set("Content-Type", "text/plain")
	}
	var sent any
	if len(body) > 0 {
		sent = body
	}
	r, err := apiclient.DoWith(ctx, t.mgr.APIURL, o.method, o.path, token, sent, header)
	if err != nil {
		ft.Fatalf("%s: %v", o.name, err)
	}
	if r.Status >= 500 {
		ft.Fatalf("%s %q: %d %s", o.name, body, r.Status, r.Body)
	}
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			ft.Fatalf("%s %q: %d with Content-Type %q, want application/problem+json", o.name, body, r.Status, ct)
		}
		after, err := t.snapshot(ctx)
		if err != nil {
			ft.Fatal(err)
		}
		if diff := before.diff(after); diff != "" {
			ft.Fatalf("%s %q was rejected (%d %s) but changed %s", o.name, body, r.Status, r.Body, diff)
		}
		return
	}
	t.accepted(ft, o, body, r, before)
}

// accepted checks a 2xx answer: only what needs no password happened; then
// it waits for the controller and logs in again after a logout.
func (t *fuzzTarget) accepted(ft *testing.T, o fuzzOperation, body []byte, r apiclient.Response, before fuzzState) {
	ctx := context.Background()
	switch o.name {
	case "deleteOrganization":
		ft.Fatalf("DELETE without the current password was accepted: %q -> %d", body, r.Status)
	case "patchOrganization":
		org := &tenancyv1alpha1.Organization{}
		if err := t.env.Client.Get(ctx, client.ObjectKey{Name: fuzzOrg}, org); err != nil {
			ft.Fatalf("PATCH %q accepted (%d) and the organization is gone: %v", body, r.Status, err)
		}
		if org.Spec.Admin.Email != t.email || org.Spec.Admin.PasswordSecretRef != nil {
			ft.Fatalf("PATCH %q without the current password changed the admin: %+v", body, org.Spec.Admin)
		}
	}
	if err := t.settle(ctx); err != nil {
		ft.Fatal(err)
	}
	after, err := t.snapshot(ctx)
	if err != nil {
		ft.Fatal(err)
	}
	if before.secrets[credNS+"/"+fuzzOrg+"-admin"] != after.secrets[credNS+"/"+fuzzOrg+"-admin"] {
		ft.Fatalf("%s %q (accepted, %d) changed the admin's credentials Secret", o.name, body, r.Status)
	}
	if o.name == "logout" || o.name == "refresh" {
		if err := t.login(ctx); err != nil {
			ft.Fatal(err)
		}
	}
}

// fuzzState is what a rejected request must leave alone.
type fuzzState struct {
	orgs    map[string]string // name -> digest of metadata (no status) and spec
	secrets map[string]string // namespace/name -> resourceVersion
	mongo   map[string]string // collection -> digest of all its documents
}

func (t *fuzzTarget) snapshot(ctx context.Context) (fuzzState, error) {
	s := fuzzState{orgs: map[string]string{}, secrets: map[string]string{}, mongo: map[string]string{}}
	var orgs tenancyv1alpha1.OrganizationList
	if err := t.env.Client.List(ctx, &orgs); err != nil {
		return s, err
	}
	for _, o := range orgs.Items {
		data, err := json.Marshal([]any{o.Generation, o.UID, o.Labels, o.Annotations, o.Finalizers, o.DeletionTimestamp, o.Spec})
		if err != nil {
			return s, err
		}
		s.orgs[o.Name] = digest(data)
	}
	var secrets corev1.SecretList
	if err := t.env.Client.List(ctx, &secrets); err != nil {
		return s, err
	}
	for _, sec := range secrets.Items {
		s.secrets[sec.Namespace+"/"+sec.Name] = sec.ResourceVersion
	}
	for _, coll := range []string{"admins", "sessions", "refreshTokenUses"} {
		docs, err := t.db.Documents(ctx, coll, nil)
		if err != nil {
			return s, err
		}
		s.mongo[coll] = digest([]byte(strings.Join(docs, "\n")))
	}
	return s, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// diff names what differs between two snapshots ("" when nothing).
func (s fuzzState) diff(o fuzzState) string {
	var out []string
	for _, pair := range []struct {
		what string
		a, b map[string]string
	}{{"Organization", s.orgs, o.orgs}, {"Secret", s.secrets, o.secrets}, {"MongoDB collection", s.mongo, o.mongo}} {
		for k, v := range pair.a {
			if pair.b[k] != v {
				out = append(out, pair.what+" "+k)
			}
		}
		for k := range pair.b {
			if _, ok := pair.a[k]; !ok {
				out = append(out, "new "+pair.what+" "+k)
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// closeInheritedOnExec marks every open descriptor above stderr
// close-on-exec (Go's own already are; inherited ones are not).
func closeInheritedOnExec() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}

// killChildren SIGKILLs every process below this one (etcd, kube-apiserver).
func killChildren() {
	for _, pid := range proc.Descendants(os.Getpid()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// killChildrenOnInterrupt makes an interrupt take the control plane along:
// the fuzzing engine interrupts a worker it stops (SIGINT, SIGKILL a second
// later), possibly while the environment is still starting, before any
// cleanup is registered; without this etcd and kube-apiserver outlive it.
func killChildrenOnInterrupt() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-c
		killChildren()
		os.Exit(2)
	}()
}
