// Command dev runs the whole org-operator system locally (`make dev`): etcd
// and kube-apiserver on loopback, an embedded FerretDB with its data under
// .dev/, the CRDs, and the real manager binary as its own process. It applies
// config/samples/, waits until they are Ready, prints how to use them, and
// stays in the foreground until Ctrl-C or SIGTERM, then stops everything it
// started and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv"
)

func main() {
	apiPort := flag.Int("api-port", envInt("DEV_API_PORT", 8082), "REST API port on 127.0.0.1 (env DEV_API_PORT)")
	mongoPort := flag.Int("mongo-port", envInt("DEV_MONGO_PORT", 27018), "FerretDB port on 127.0.0.1 (env DEV_MONGO_PORT)")
	stateDir := flag.String("state-dir", os.Getenv("DEV_STATE_DIR"), "Where data, logs and the env file live (env DEV_STATE_DIR; default .dev)")
	flag.Parse()
	if err := run(*apiPort, *mongoPort, *stateDir); err != nil {
		fmt.Fprintf(os.Stderr, "make dev: %v\n", err)
		os.Exit(1)
	}
}

func run(apiPort, mongoPort int, stateDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	env, err := devenv.Start(ctx, devenv.Options{
		APIPort: apiPort, MongoPort: mongoPort, StateDir: stateDir, Log: os.Stdout,
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
	if out, err := env.Kubectl(ctx, "apply", "-k", "config/samples"); err != nil {
		return err
	} else {
		fmt.Print(indent(out))
	}
	if _, err := env.Kubectl(ctx, "wait", "--for=condition=Ready", "organization", "--all", "--timeout=180s"); err != nil {
		return fmt.Errorf("samples did not become Ready: %w (manager log: %s)", err, env.ManagerLog)
	}
	table, err := env.Kubectl(ctx, "get", "organizations")
	if err != nil {
		return err
	}
	login, err := loginExample(ctx, env, "acme")
	if err != nil {
		return err
	}
	fmt.Printf(`
org-operator is running (ready in %s).

%s
  kubeconfig:  %s
  environment: source %s   (KUBECONFIG, MONGODB_URI, ORG_API_URL)
  MongoDB:     %s
  REST API:    %s
  API docs:    %s/docs
  manager log: %s

Log in as the admin of the sample organization "acme":

%s

Press Ctrl-C to stop.
`, time.Since(start).Round(time.Second), indent(table), env.Kubeconfig, env.EnvFile, env.MongoURI,
		env.APIURL, env.APIURL, env.ManagerLog, login)

	<-ctx.Done()
	return nil
}

// loginExample is a copy-paste curl login with the organization's credentials
// read from its Secret.
func loginExample(ctx context.Context, env *devenv.Env, org string) (string, error) {
	c, err := client.New(env.Config(), client.Options{})
	if err != nil {
		return "", err
	}
	s := &corev1.Secret{}
	key := client.ObjectKey{Namespace: devenv.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(org)}
	if err := c.Get(ctx, key, s); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return fmt.Sprintf(`  curl -s -X POST %s/v1/auth/login -H 'Content-Type: application/json' \
    -d '{"email":"%s","password":"%s"}'`, env.APIURL, s.Data[tenancyv1alpha1.SecretKeyEmail], s.Data[tenancyv1alpha1.SecretKeyPassword]), nil
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
