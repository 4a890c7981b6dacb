//go:build integration

package restapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
)

// The README says lockouts are logged with the client network and a hash
// of the account, and that logs never contain a password or a hash. Every
// line the operator under test logs in this suite (the manager's controller
// and API, and the API servers tests start) is kept in suiteLog, and every
// password and token the tests send is remembered, so both claims are
// checked: the first by a spec, the second over the whole suite's log after
// the suite (checkLogsKeepSecrets).

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	suiteLog = &lockedBuffer{}
	// suiteLogger writes to the test output and to suiteLog.
	suiteLogger logr.Logger

	secretsMu sync.Mutex
	// sentSecrets are the passwords and tokens the tests sent.
	sentSecrets = map[string]bool{}
)

func init() {
	suiteLogger = zap.New(zap.WriteTo(multiWriter{GinkgoWriter, suiteLog}), zap.UseDevMode(true))
}

type multiWriter []interface{ Write([]byte) (int, error) }

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

// rememberSecrets notes the passwords, refresh tokens and the access token
// of a request the tests send.
func rememberSecrets(token string, body any) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	if token != "" {
		sentSecrets[token] = true
	}
	if m, ok := body.(map[string]string); ok {
		for _, k := range []string{"password", "currentPassword", "refresh_token"} {
			if v := m[k]; v != "" {
				sentSecrets[v] = true
			}
		}
	}
}

// minSecretLength: shorter values the tests send (a wrong "x") are no
// real secret and could match any log line.
const minSecretLength = 12

// checkLogsKeepSecrets fails when the suite's log contains a password or
// token a test sent, a password or hash of a credentials Secret, or an
// admin record's hash.
func checkLogsKeepSecrets() {
	GinkgoHelper()
	secrets := map[string]string{}
	secretsMu.Lock()
	for s := range sentSecrets {
		secrets[s] = "a password or token a test sent"
	}
	secretsMu.Unlock()
	var list corev1.SecretList
	Expect(k8s.List(ctx, &list, client.InNamespace(credNS))).To(Succeed())
	for _, s := range list.Items {
		for _, k := range []string{"password", "passwordHash"} {
			if v := string(s.Data[k]); v != "" {
				secrets[v] = fmt.Sprintf("key %s of Secret %s", k, s.Name)
			}
		}
	}
	var admins []bson.M
	Expect(reader.Decode(ctx, "admins", nil, &admins)).To(Succeed())
	for _, a := range admins {
		if h, _ := a["passwordHash"].(string); h != "" {
			secrets[h] = fmt.Sprintf("the password hash of %v's admin record", a["organization"])
		}
	}
	Expect(len(secrets)).To(BeNumerically(">", 50), "too few secrets seen for a meaningful check")
	log := suiteLog.String()
	Expect(log).NotTo(BeEmpty())
	for s, what := range secrets {
		if len(s) >= minSecretLength && strings.Contains(log, s) {
			Fail("the operator's log contains " + what)
		}
	}
}

// accountHash is how the API names an account in its logs.
func accountHash(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:6])
}

var _ = Describe("Logs", func() {
	It("log every lockout with the client network and a hash of the account, never the email", func() {
		seq++
		email := fmt.Sprintf("locked-%d@logs.example", seq)
		for range apiCfg.Lockout.Threshold {
			r, err := apiclient.DoWith(ctx, baseURL, http.MethodPost, "/v1/auth/login", "",
				map[string]string{"email": email, "password": "a wrong password"}, http.Header{"X-Forwarded-For": {"198.51.100.77"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Status).To(Equal(http.StatusUnauthorized))
		}
		var line string
		Eventually(func() string {
			for _, l := range strings.Split(suiteLog.String(), "\n") {
				if strings.Contains(l, "account locked for a client network") && strings.Contains(l, accountHash(email)) {
					line = l
				}
			}
			return line
		}, timeout, interval).ShouldNot(BeEmpty(), "no lockout line names the account's hash")
		Expect(line).To(ContainSubstring("198.51.100.77"), "the lockout line names the client network")
		Expect(suiteLog.String()).NotTo(ContainSubstring(email), "the account's email is in the log")
	})
})
