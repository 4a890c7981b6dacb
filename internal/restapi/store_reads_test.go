//go:build integration

package restapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/org-operator/org-operator/internal/mongostore"
	"github.com/org-operator/org-operator/internal/restapi"
)

var _ = Describe("Store reads per request", func() {
	It("reads the store once per authenticated request: the session, not the admin record", func() {
		t := newTenant("oneread")
		pair := tokensFor(t)
		Expect(call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil).status).To(Equal(http.StatusOK))

		const n = 40
		before := mgr.Commands.Snapshot()
		for range n {
			r := call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil)
			Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		}
		sent := mgr.Commands.Since(before)
		GinkgoWriter.Printf("%d authenticated GETs sent %v\n", n, sent)
		// A bulk observation of the controller landing meanwhile sends
		// listCollections once and two finds (admin records, ledger).
		passes := sent["listCollections"]
		Expect(sent["find"]-2*passes).To(Equal(int64(n)), "finds per authenticated request; sent: %v", sent)
	})

	It("ends earlier tokens as soon as a password the platform changed is in the admin record, though it reads only the session", func() {
		t := newTenant("rotated")
		pair := tokensFor(t)
		version := adminRecords(t.name)[0]["credentialsVersion"]
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: t.name + "-admin"}, s)).To(Succeed())
		s.Data["password"] = []byte("the platform rotated this one 2026")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func() any { return adminRecords(t.name)[0]["credentialsVersion"] }, timeout, 10*time.Millisecond).ShouldNot(Equal(version))
		// At once: the controller ended the sessions before it wrote the record.
		expectProblem(call(http.MethodGet, "/v1/organizations/"+t.name, pair.AccessToken, nil), http.StatusUnauthorized)
		expectProblem(call(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}), http.StatusUnauthorized)
		Expect(reader.Count(ctx, "sessions", bson.D{{Key: "organization", Value: t.name}})).To(BeZero())
	})
})

// changingStore changes the admin's credentials right after a login's
// session is written, as a password change landing between a login's check
// and its session would.
type changingStore struct {
	*mongostore.Store
	change func(organization string)
}

func (s changingStore) CreateSession(ctx context.Context, sess mongostore.Session) error {
	err := s.Store.CreateSession(ctx, sess)
	s.change(sess.Organization)
	return err
}

var _ = Describe("A login racing a credentials change", func() {
	It("is refused and leaves no session when the admin record changed while it was checked", func() {
		t := newTenant("racing")
		store := changingStore{Store: connectStore(nil), change: func(organization string) {
			records := adminRecords(organization)
			Expect(records).To(HaveLen(1))
			record := records[0]
			record["credentialsVersion"] = record["credentialsVersion"].(int64) + 1
			Expect(writer.Upsert(ctx, "admins", record["_id"], record)).To(Succeed())
		}}
		srv, err := restapi.New(apiCfg, restapi.Dependencies{Client: mgr.Manager.GetClient(), Reader: mgr.Manager.GetAPIReader(),
			Store: store, Log: suiteLogger})
		Expect(err).NotTo(HaveOccurred())
		ts := httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)

		r := callAt(ts.URL, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": t.email, "password": t.password})
		expectProblem(r, http.StatusUnauthorized)
		Expect(reader.Count(ctx, "sessions", bson.D{{Key: "organization", Value: t.name}})).To(BeZero(), "the racing login's session survived")
	})
})
