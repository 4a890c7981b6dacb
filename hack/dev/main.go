// Command dev runs the whole org-operator system locally (`make dev`): etcd
// and kube-apiserver on loopback, an embedded FerretDB with its data under
// .dev/, the CRDs, and the real manager binary as its own process. It applies
// config/samples/, waits until they converged (Ready for their current
// generation; other Organizations on kept data are reported, not waited
// for, and a sample that does not converge is reported too), prints how to
// use them (a REST login, a mongosh connection with the sample
// application's Secret), and stays in the foreground until Ctrl-C or SIGTERM, then stops everything it
// started and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
)

func main() {
	apiPort := flag.Int("api-port", envInt("DEV_API_PORT", 8082), "REST API port on 127.0.0.1 (env DEV_API_PORT)")
	mongoPort := flag.Int("mongo-port", envInt("DEV_MONGO_PORT", 27018), "FerretDB port on 127.0.0.1 (env DEV_MONGO_PORT)")
	secondPort := flag.Int("second-mongo-port", envInt("DEV_SECOND_MONGO_PORT", 27019),
		"the second FerretDB's port on 127.0.0.1, MongoBackend second (env DEV_SECOND_MONGO_PORT)")
	stateDir := flag.String("state-dir", os.Getenv("DEV_STATE_DIR"), "Where data, logs and the env file live (env DEV_STATE_DIR; default .dev)")
	flag.Parse()
	if err := run(*apiPort, *mongoPort, *secondPort, *stateDir); err != nil {
		fmt.Fprintf(os.Stderr, "make dev: %v\n", err)
		os.Exit(1)
	}
}

func run(apiPort, mongoPort, secondPort int, stateDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	env, err := devenv.Start(ctx, devenv.Options{
		APIPort: apiPort, MongoPort: mongoPort, SecondMongoPort: secondPort, StateDir: stateDir, Log: os.Stdout,
		ManagerArgs: devenv.ManagerAPIArgs(apiPort),
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("stopping the manager, FerretDB and the control plane...")
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "make dev: while stopping: %v\n", err)
		}
		fmt.Println("stopped.")
	}()

	fmt.Println("applying config/samples/ ...")
	applied, err := env.Kubectl(ctx, "apply", "-k", "config/samples", "-o", "name")
	if err != nil {
		return err
	}
	fmt.Print(indent(applied))
	c, err := newClient(env)
	if err != nil {
		return err
	}
	samples := sampleNames(applied)
	notReady := waitSamples(ctx, c, samples, 180*time.Second)
	notReady = append(notReady, others(ctx, c, samples)...)
	table, err := env.Kubectl(ctx, "get", "organizations")
	if err != nil {
		return err
	}
	login, err := loginExample(ctx, c, env, "acme")
	if err != nil {
		login = "  (no login example: " + err.Error() + ")"
	}
	connect, waiting := connectExample(ctx, c, sampleAccesses(applied), 60*time.Second)
	notReady = append(notReady, waiting...)
	if len(notReady) > 0 {
		fmt.Printf("\nNot Ready (the environment stays up; see kubectl describe organization <name> and %s):\n%s",
			env.ManagerLog, indent(strings.Join(notReady, "\n")))
	}
	fmt.Printf(`
org-operator is running (ready in %s).

%s
  kubeconfig:  %s
  environment: source %s   (KUBECONFIG, MONGODB_URI, ORG_API_URL)
  MongoDB:     %s
               %s (MongoBackend second: kubectl get mongobackends)
  REST API:    %s
  API docs:    %s/docs
  manager log: %s

Log in as the admin of the sample organization "acme":

%s

Connect as acme's sample application, with its own MongoDB user (the
connection Secret acme-shop/web; make dev installed mongosh in hack/clients):

%s
Move the sample organization globex to the second deployment (and back
with "default"); kubectl get organization globex -w shows the move:

  kubectl patch organization globex --type merge -p '{"spec":{"backend":"second"}}'

Press Ctrl-C to stop.
`, time.Since(start).Round(time.Second), indent(table), env.Kubeconfig, env.EnvFile, env.MongoURI, env.SecondMongoURI,
		env.APIURL, env.APIURL, env.ManagerLog, login, connect)

	<-ctx.Done()
	return nil
}

// newClient is a client for env's apiserver that knows the Organization kind.
func newClient(env *devenv.Env) (client.Client, error) {
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), tenancyv1alpha1.AddToScheme(s)); err != nil {
		return nil, err
	}
	return client.New(env.Config(), client.Options{Scheme: s})
}

// sampleNames are the Organizations among the objects `kubectl apply -o
// name` printed.
func sampleNames(applied string) []string {
	var names []string
	for _, line := range strings.Fields(applied) {
		if kind, name, ok := strings.Cut(line, "/"); ok && strings.HasPrefix(kind, "organization.") {
			names = append(names, name)
		}
	}
	return names
}

// waitSamples waits, within timeout in all, until each of names converged on
// its current spec, and returns one line for each that did not.
func waitSamples(ctx context.Context, c client.Client, names []string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	var notReady []string
	for _, name := range names {
		if _, err := convergence.Wait(ctx, c, name, max(time.Until(deadline), time.Second)); err != nil {
			notReady = append(notReady, "sample "+err.Error())
		}
	}
	return notReady
}

// others returns one line for each Organization that is not a sample and has
// not converged (left from earlier work on kept data): make dev reports them
// and does not wait for them.
func others(ctx context.Context, c client.Client, samples []string) []string {
	var list tenancyv1alpha1.OrganizationList
	if err := c.List(ctx, &list); err != nil {
		return []string{"cannot list organizations: " + err.Error()}
	}
	var lines []string
	for i := range list.Items {
		if org := &list.Items[i]; !slices.Contains(samples, org.Name) {
			if err := convergence.Check(org); err != nil {
				lines = append(lines, err.Error())
			}
		}
	}
	return lines
}

// loginExample is a copy-paste curl login with the organization's credentials
// read from its Secret.
func loginExample(ctx context.Context, c client.Client, env *devenv.Env, org string) (string, error) {
	s := &corev1.Secret{}
	key := client.ObjectKey{Namespace: devenv.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(org)}
	if err := c.Get(ctx, key, s); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return fmt.Sprintf(`  curl -s -X POST %s/v1/auth/login -H 'Content-Type: application/json' \
    -d '{"email":"%s","password":"%s"}'`, env.APIURL, s.Data[tenancyv1alpha1.SecretKeyEmail], s.Data[tenancyv1alpha1.SecretKeyPassword]), nil
}

// sampleAccesses are the OrganizationAccess names among the objects
// `kubectl apply -o name` printed (it prints no namespace).
func sampleAccesses(applied string) []string {
	var names []string
	for _, line := range strings.Fields(applied) {
		if kind, name, ok := strings.Cut(line, "/"); ok && strings.HasPrefix(kind, "organizationaccess.") {
			names = append(names, name)
		}
	}
	return names
}

// connectExample waits, within timeout, until the sample accesses are
// Ready, and returns how to connect with each one's Secret, and a line for
// each that is not Ready.
func connectExample(ctx context.Context, c client.Client, names []string, timeout time.Duration) (string, []string) {
	deadline := time.Now().Add(timeout)
	var b strings.Builder
	var waiting []string
	for {
		var list tenancyv1alpha1.OrganizationAccessList
		if err := c.List(ctx, &list); err != nil {
			return "", []string{"cannot list organization accesses: " + err.Error()}
		}
		b.Reset()
		waiting = waiting[:0]
		for i := range list.Items {
			a := &list.Items[i]
			if !slices.Contains(names, a.Name) {
				continue
			}
			if !accessReady(a) {
				waiting = append(waiting, fmt.Sprintf("sample organizationaccess %s/%s is not Ready: %s", a.Namespace, a.Name, readyMessage(a)))
				continue
			}
			s := &corev1.Secret{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Status.SecretName}, s); err != nil {
				waiting = append(waiting, fmt.Sprintf("sample organizationaccess %s/%s: %v", a.Namespace, a.Name, err))
				continue
			}
			fmt.Fprintf(&b, "  hack/clients/node_modules/.bin/mongosh \\\n    \"$(kubectl get secret -n %s %s -o jsonpath='{.data.uri}' | base64 -d)\"\n",
				a.Namespace, a.Status.SecretName)
			fmt.Fprintf(&b, "  (user %s, isolation %s; the uri is %s)\n", a.Status.Username, a.Status.Isolation, s.Data[tenancyv1alpha1.AccessKeyURI])
		}
		if len(waiting) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return b.String(), waiting
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func accessReady(a *tenancyv1alpha1.OrganizationAccess) bool {
	c := meta.FindStatusCondition(a.Status.Conditions, tenancyv1alpha1.ConditionReady)
	return a.Status.ObservedGeneration == a.Generation && c != nil && c.Status == metav1.ConditionTrue
}

func readyMessage(a *tenancyv1alpha1.OrganizationAccess) string {
	if c := meta.FindStatusCondition(a.Status.Conditions, tenancyv1alpha1.ConditionReady); c != nil {
		return c.Reason + ": " + c.Message
	}
	return "no status yet"
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}

func envInt(name string, fallback int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(name), &v); err == nil && v > 0 {
		return v
	}
	return fallback
}
