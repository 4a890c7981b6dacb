//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/org-operator/org-operator/internal/devenv/convergence"
	"go.mongodb.org/mongo-driver/v2/bson"
)

var _ = Describe("Journeys", Ordered, func() {
	It("1. applies an org, reads its Secret, logs in over HTTP, reads it, sets the field Git leaves out and is refused the one it sets", func() {
		// The manifest leaves displayName out: the tenant owns it. It sets
		// admin.email: kubectl apply owns that, and the API says so.
		_, err := apply(orgManifest("journey-one", "  admin:\n    email: admin@journey-one.example\n"))
		Expect(err).NotTo(HaveOccurred())
		waitConverged(60*time.Second, "journey-one")

		email := secretValue("journey-one-admin", "email")
		pw := secretValue("journey-one-admin", "password")
		Expect(email).To(Equal("admin@journey-one.example"))
		Expect(pw).To(HaveLen(32))
		token := login(email, pw)

		r := request(http.MethodGet, "/v1/organizations/journey-one", token, nil)
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.body["collection"]).To(Equal("org_journey-one"))
		Expect(r.body["ready"]).To(BeTrue())

		r = request(http.MethodPatch, "/v1/organizations/journey-one", token, map[string]string{"displayName": "Journey One Renamed"})
		Expect(r.status).To(Equal(http.StatusOK), "%v", r.body)
		Expect(kubectl("get", "org", "journey-one", "-o", "jsonpath={.spec.displayName}")).To(Equal("Journey One Renamed"))

		r = request(http.MethodPatch, "/v1/organizations/journey-one", token,
			map[string]string{"adminEmail": "other@journey-one.example", "currentPassword": pw})
		Expect(r.status).To(Equal(http.StatusConflict), "%v", r.body)
		Expect(fmt.Sprint(r.body)).To(ContainSubstring("kubectl-client-side-apply"))
		Expect(kubectl("get", "org", "journey-one", "-o", "jsonpath={.spec.admin.email}")).To(Equal("admin@journey-one.example"))
	})

	It("2. a password edited with kubectl ends the old password and old tokens", func() {
		email := secretValue("journey-one-admin", "email")
		old := secretValue("journey-one-admin", "password")
		token := login(email, old)
		kubectl("patch", "secret", "-n", "org-operator-credentials", "journey-one-admin", "--type=merge",
			"-p", `{"stringData":{"password":"edited with kubectl 2026"}}`)
		Eventually(func() int { return loginStatus(email, "edited with kubectl 2026") }, "30s", "250ms").Should(Equal(http.StatusOK))
		Expect(loginStatus(email, old)).To(Equal(http.StatusUnauthorized))
		Expect(request(http.MethodGet, "/v1/organizations/journey-one", token, nil).status).To(Equal(http.StatusUnauthorized))
	})

	It("3. Retain keeps the tenant's documents, Delete drops the collection", func() {
		_, err := apply(orgManifest("keeper", "  admin:\n    email: admin@keeper.example\n  deletionPolicy: Retain\n") + "\n---\n" +
			orgManifest("dropper", "  admin:\n    email: admin@dropper.example\n  deletionPolicy: Delete\n"))
		Expect(err).NotTo(HaveOccurred())
		waitConverged(60*time.Second, "keeper", "dropper")
		for i := range 7 {
			Expect(sd.InsertMany(ctx, "org_keeper", []any{bson.D{{Key: "i", Value: i}}})).To(Succeed())
			Expect(sd.InsertMany(ctx, "org_dropper", []any{bson.D{{Key: "i", Value: i}}})).To(Succeed())
		}
		keeperPassword := secretValue("keeper-admin", "password")
		Expect(loginStatus("admin@keeper.example", keeperPassword)).To(Equal(http.StatusOK))

		kubectl("delete", "organization", "keeper", "dropper", "--wait=true", "--timeout=60s")
		Expect(db.Count(ctx, "org_keeper", nil)).To(Equal(int64(7)))
		Expect(loginStatus("admin@keeper.example", keeperPassword)).To(Equal(http.StatusUnauthorized))
		Expect(db.CollectionExists(ctx, "org_dropper")).To(BeFalse())
	})

	It("4. rejects an invalid manifest with the CRD's message and creates nothing", func() {
		// The apiserver runs CEL rules only once the schema's own checks pass,
		// so each mistake gets its own manifest.
		for manifest, message := range map[string]string{
			orgManifest("bad_org", "  admin:\n    email: a@b.example\n"):                      "metadata.name must be a DNS-1123 label",
			orgManifest("bad-email", "  admin:\n    email: not-an-email\n"):                   "email must be an email address",
			orgManifest("bad-tenancy", "  admin:\n    email: a@b.example\n  tenancy: Solo\n"): `Unsupported value: "Solo"`,
		} {
			out, err := apply(manifest)
			Expect(err).To(HaveOccurred())
			Expect(out).To(ContainSubstring(message))
		}
		out, err := apply(orgManifest("with-password", "  admin:\n    email: a@b.example\n    password: hunter2hunter2\n"))
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`unknown field "spec.admin.password"`))
		list := kubectl("get", "org", "-o", "name")
		for _, name := range []string{"bad_org", "bad-email", "bad-tenancy"} {
			Expect(list).NotTo(ContainSubstring(name))
		}
		Expect(list).NotTo(ContainSubstring("with-password"))
	})

	It("5. survives a SIGKILL of the manager while 20 orgs are created: all Ready, one admin each, no duplicate Secrets", func() {
		docs, names := make([]string, 0, 20), make([]string, 0, 20)
		for i := range 20 {
			name := fmt.Sprintf("crash-%02d", i)
			names = append(names, name)
			docs = append(docs, orgManifest(name, fmt.Sprintf("  admin:\n    email: admin@%s.example\n", name)))
		}
		_, err := apply(strings.Join(docs, "\n---\n"))
		Expect(err).NotTo(HaveOccurred())
		// Kill as soon as the first one converged, and check the kill landed
		// while the creations were under way (not after all of them).
		Eventually(func() (int, error) { _, converged, err := convergence.Progress(ctx, k8s, names); return converged, err },
			60*time.Second, 20*time.Millisecond).Should(BeNumerically(">=", 1))
		Expect(env.KillManager(syscall.SIGKILL)).To(Succeed())
		_, converged, err := convergence.Progress(ctx, k8s, names)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("organizations converged when the manager was killed", fmt.Sprintf("%d of %d", converged, len(names)))
		Expect(converged).To(BeNumerically("<", len(names)), "the kill landed after every creation had finished")
		Expect(env.StartManager(ctx)).To(Succeed())
		waitConverged(180*time.Second, names...)

		for _, name := range names {
			n, err := db.Count(ctx, "admins", bson.D{{Key: "organization", Value: name}})
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(int64(1)), "admin records of %s", name)
			secrets := kubectl("get", "secret", "-n", "org-operator-credentials", "-l", "tenancy.org-operator.io/organization="+name, "-o", "name")
			Expect(strings.Fields(secrets)).To(HaveLen(1), "Secrets of %s", name)
			pw := secretValue(name+"-admin", "password")
			Expect(loginStatus("admin@"+name+".example", pw)).To(Equal(http.StatusOK))
		}
	})

	It("6. reports MongoUnavailable and an unready manager while MongoDB is down for 20s, then every org becomes Ready", func() {
		docs, names := make([]string, 0, 5), make([]string, 0, 5)
		for i := range 5 {
			name := fmt.Sprintf("outage-%d", i)
			names = append(names, name)
			docs = append(docs, orgManifest(name, fmt.Sprintf("  admin:\n    email: admin@%s.example\n", name)))
		}
		Expect(env.StopMongo()).To(Succeed())
		stopped := time.Now()
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				Expect(env.StartMongo()).To(Succeed())
			}
		})
		_, err := apply(strings.Join(docs, "\n---\n"))
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			out, _ := env.Kubectl(ctx, "get", "org", names[0], "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
			return out
		}, "30s", "500ms").Should(Equal("MongoUnavailable"))
		// Readiness tells the truth (the Service stops sending API traffic);
		// liveness does not restart a replica for it. The probe answers (each
		// check is bounded to 2 s) with a status the kubelet counts as a
		// failure (400 and above).
		Eventually(func() int { return probeStatus("/readyz") }, "10s", "250ms").Should(BeNumerically(">=", http.StatusBadRequest))
		Expect(probeStatus("/healthz")).To(Equal(http.StatusOK))
		time.Sleep(time.Until(stopped.Add(20 * time.Second)))
		Expect(env.StartMongo()).To(Succeed())
		restarted = true
		Eventually(func() int { return probeStatus("/readyz") }, "30s", "250ms").Should(Equal(http.StatusOK))
		waitConverged(120*time.Second, names...)
	})
})
