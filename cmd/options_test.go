package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, o *options)
	}{
		{
			name: "defaults with the URI from the environment",
			env:  map[string]string{"MONGODB_URI": "mongodb://db:27017/"},
			check: func(t *testing.T, o *options) {
				if o.operator.Mongo.URI != "mongodb://db:27017/" || o.operator.Mongo.Database != "orgs" {
					t.Errorf("mongo = %+v", o.operator.Mongo)
				}
				if o.operator.Controller.CredentialsNamespace != "org-operator-credentials" || o.operator.Namespace != "org-operator-system" ||
					o.operator.Controller.ResyncPeriod != 10*time.Minute {
					t.Errorf("namespaces %q (credentials), %q (operator), resync %s", o.operator.Controller.CredentialsNamespace,
						o.operator.Namespace, o.operator.Controller.ResyncPeriod)
				}
				if o.operator.LeaderElection {
					t.Error("leader election is on by default for a local run; the deployment turns it on")
				}
			},
		},
		{
			name: "the pod's namespace is the operator's namespace, never the credentials namespace",
			env:  map[string]string{"MONGODB_URI": "mongodb://db/", "POD_NAMESPACE": "operators"},
			check: func(t *testing.T, o *options) {
				if o.operator.Namespace != "operators" || o.operator.Controller.CredentialsNamespace != "org-operator-credentials" {
					t.Errorf("namespaces %q (operator), %q (credentials)", o.operator.Namespace, o.operator.Controller.CredentialsNamespace)
				}
				if o.operator.API.SigningKeysNamespace != "operators" || o.operator.API.CredentialsNamespace != "org-operator-credentials" {
					t.Errorf("API namespaces %q (keys), %q (credentials)", o.operator.API.SigningKeysNamespace, o.operator.API.CredentialsNamespace)
				}
			},
		},
		{
			name: "flags win over the environment",
			args: []string{"--mongodb-uri", "mongodb://flag/", "--credentials-namespace", "creds", "--mongodb-database", "t",
				"--resync-period", "30s", "--max-concurrent-reconciles", "8", "--mongodb-max-pool-size", "50",
				"--mongodb-operation-timeout", "2s", "--leader-elect"},
			env: map[string]string{"MONGODB_URI": "mongodb://env/", "POD_NAMESPACE": "tenants"},
			check: func(t *testing.T, o *options) {
				if o.operator.Mongo.URI != "mongodb://flag/" || o.operator.Controller.CredentialsNamespace != "creds" || o.operator.Mongo.Database != "t" ||
					o.operator.Controller.ResyncPeriod != 30*time.Second || o.operator.Controller.MaxConcurrentReconciles != 8 || o.operator.Mongo.MaxPoolSize != 50 ||
					o.operator.Mongo.OperationTimeout != 2*time.Second || !o.operator.LeaderElection {
					t.Errorf("options = %+v", o)
				}
			},
		},
		{
			name: "leader election timings",
			args: []string{"--mongodb-uri", "mongodb://x/", "--leader-elect-lease-duration", "60s", "--leader-elect-renew-deadline", "40s",
				"--leader-elect-retry-period", "5s"},
			check: func(t *testing.T, o *options) {
				if o.operator.LeaseDuration != time.Minute || o.operator.RenewDeadline != 40*time.Second || o.operator.RetryPeriod != 5*time.Second {
					t.Errorf("lease %s, renew %s, retry %s", o.operator.LeaseDuration, o.operator.RenewDeadline, o.operator.RetryPeriod)
				}
			},
		},
		{name: "renew deadline beyond the lease", args: []string{"--mongodb-uri", "mongodb://x/", "--leader-elect-renew-deadline", "20s"},
			wantErr: "--leader-elect-lease-duration > --leader-elect-renew-deadline"},
		{name: "missing URI", wantErr: "MongoDB URI is required"},
		{name: "unparsable URI", args: []string{"--mongodb-uri", "postgres://x"}, wantErr: "MongoDB URI is not valid"},
		{name: "zero workers", args: []string{"--mongodb-uri", "mongodb://x/", "--max-concurrent-reconciles", "0"}, wantErr: "at least 1"},
		{name: "tiny resync", args: []string{"--mongodb-uri", "mongodb://x/", "--resync-period", "1ms"}, wantErr: "--resync-period"},
		{name: "unknown flag", args: []string{"--mongo-uri", "x"}, wantErr: "flag provided but not defined"},
		{name: "shared collection is a reserved one", args: []string{"--mongodb-uri", "mongodb://x/", "--shared-collection", "admins"},
			wantErr: "--shared-collection: collection name \"admins\" is one the operator keeps its own records in"},
		{name: "shared collection is a system one", args: []string{"--mongodb-uri", "mongodb://x/", "--shared-collection", "system.users"},
			wantErr: "is a system collection"},
		{name: "shared collection looks like a tenant's", args: []string{"--mongodb-uri", "mongodb://x/", "--shared-collection", "org_acme"},
			wantErr: "starts like a tenant's dedicated collection"},
		{name: "database is MongoDB's own", args: []string{"--mongodb-uri", "mongodb://x/", "--mongodb-database", "admin"},
			wantErr: "--mongodb-database: database name \"admin\" is one of MongoDB's own databases"},
		{name: "database name with a dot", args: []string{"--mongodb-uri", "mongodb://x/", "--mongodb-database", "a.b"}, wantErr: "must not contain"},
		{name: "trusted proxy that is not a CIDR", args: []string{"--mongodb-uri", "mongodb://x/", "--api-trusted-proxies", "10.0.0.1"},
			wantErr: "--api-trusted-proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

// TestBadURIFailsWithOneLine runs the real binary: a configuration mistake is
// one clear line on stderr and a non-zero exit, never a stack trace.
func TestBadURIFailsWithOneLine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "", "org-operator: MongoDB URI is required (set --mongodb-uri or MONGODB_URI)"},
		{nil, "MONGODB_URI=mongodb://user:hunter2@host:notaport/", "org-operator: MongoDB URI is not valid"},
		{[]string{"--mongodb-uri", "http://x"}, "", "org-operator: MongoDB URI is not valid"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = []string{"HOME=" + os.Getenv("HOME")}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%v: exit 0", tc.args)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Fatalf("%v %s: output %q; want one line starting %q", tc.args, tc.env, out, tc.want)
		}
		if strings.Contains(string(out), "hunter2") || strings.Contains(string(out), "goroutine") {
			t.Fatalf("output leaks a secret or a stack: %q", out)
		}
	}
}
