//go:build integration

package restapi_test

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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
		sent := map[string]int64{}
		for cmd, c := range mgr.Commands.Snapshot() {
			if d := c - before[cmd]; d > 0 {
				sent[cmd] = d
			}
		}
		GinkgoWriter.Printf("%d authenticated GETs sent %v\n", n, sent)
		// A bulk observation of the controller landing meanwhile sends
		// listCollections once and two finds (admin records, ledger).
		passes := sent["listCollections"]
		Expect(sent["find"]-2*passes).To(Equal(int64(n)), "finds per authenticated request; sent: %v", sent)
	})
})
