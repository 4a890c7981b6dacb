//go:build integration

package ha

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// selfSigned writes a certificate for 127.0.0.1 with serial and its key, as
// the files cert-manager's Secret puts in the mounted folder (tls.crt,
// tls.key), replacing earlier ones, and returns the folder and a pool
// trusting the certificate.
func selfSigned(serial int64) (string, *x509.CertPool) {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "org-operator-api"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	folder := filepath.Join(dir, "api-tls")
	Expect(os.MkdirAll(folder, 0o700)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(folder, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(folder, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)).To(Succeed())
	cert, err := x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return folder, pool
}

var _ = Describe("The REST API over HTTPS", func() {
	It("serves with the certificate files config/certmanager mounts, and not in plain HTTP", func() {
		folder, pool := selfSigned(1)
		r := startReplica("tls", "--api-tls-cert-file="+filepath.Join(folder, "tls.crt"), "--api-tls-key-file="+filepath.Join(folder, "tls.key"))
		secure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		resp, err := secure.Get(strings.Replace(r.APIURL, "http://", "https://", 1) + "/healthz")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.TLS).NotTo(BeNil())
		plain, err := http.Get(r.APIURL + "/healthz")
		if err == nil {
			Expect(plain.Body.Close()).To(Succeed())
			Expect(plain.StatusCode).To(Equal(http.StatusBadRequest), "plain HTTP must not be served")
		}

		// A renewal (cert-manager rewrites the Secret, the kubelet the files)
		// is served without a restart.
		_, renewed := selfSigned(2)
		trustsRenewed := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: renewed, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
		Eventually(func() (int64, error) {
			resp, err := trustsRenewed.Get(strings.Replace(r.APIURL, "http://", "https://", 1) + "/healthz")
			if err != nil {
				return 0, err
			}
			defer func() { _ = resp.Body.Close() }()
			return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
		}, 20*time.Second, 500*time.Millisecond).Should(Equal(int64(2)), "the renewed certificate is served")
	})
	It("serves metrics with the certificate --metrics-cert-path names, so a scraper can verify it", func() {
		// Issue 20: the ServiceMonitor skipped verification because the
		// metrics endpoint only had a self-signed certificate.
		folder, pool := selfSigned(7)
		r := startReplica("metrics-tls", "--metrics-secure=true", "--metrics-cert-path="+folder)
		verifying := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
			MinVersion: tls.VersionTLS12}}}
		resp, err := verifying.Get(strings.Replace(r.MetricsURL, "http://", "https://", 1) + "/metrics")
		Expect(err).NotTo(HaveOccurred(), "the metrics certificate does not verify")
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.TLS.PeerCertificates[0].SerialNumber.Int64()).To(Equal(int64(7)))
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "secure metrics need a token")
	})
})
