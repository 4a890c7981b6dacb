//go:build integration

package restapi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// headlessChromium runs Debian's chromium with no network beyond loopback:
// every other host resolves to nothing and goes through a proxy that does
// not exist, so a page that needs a CDN renders blank.
func headlessChromium(args ...string) (string, error) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := make([]string, 0, 10+len(args))
	all = append(all, "--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--user-data-dir="+GinkgoT().TempDir(),
		"--proxy-server=http://127.0.0.1:9", // loopback bypasses a proxy by default
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--virtual-time-budget=20000")
	all = append(all, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Env = append(os.Environ(), "HOME="+GinkgoT().TempDir())
	out, err := cmd.Output()
	return string(out), err
}

// text is the visible text of an HTML document, whitespace collapsed.
func text(html string) string {
	html = regexp.MustCompile(`(?s)<(style|script)[^>]*>.*?</(style|script)>`).ReplaceAllString(html, " ")
	html = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(html, " ")
	html = strings.NewReplacer("&nbsp;", " ", "&#39;", "'", "&amp;", "&", "&quot;", `"`).Replace(html)
	return strings.Join(strings.Fields(html), " ")
}

var _ = Describe("The API reference page", func() {
	It("renders the operations in headless Chromium without internet access (assets served by the binary)", func() {
		if _, err := exec.LookPath("chromium"); err != nil {
			Fail("Debian's chromium is needed for the docs page test (apt-get install chromium; .ci/run installs it)")
		}
		// The overview: the document's title, tags and schemas.
		dom, err := headlessChromium("--dump-dom", baseURL+"/docs")
		Expect(err).NotTo(HaveOccurred())
		Expect(text(dom)).To(ContainSubstring("org-operator tenant admin API Overview Endpoints auth organizations health"), "%.3000s", text(dom))
		Expect(text(dom)).To(ContainSubstring("TokenPair"))
		// One operation's page (Elements' hash route): its summary, method and path.
		dom, err = headlessChromium("--dump-dom", baseURL+"/docs#/operations/login")
		Expect(err).NotTo(HaveOccurred())
		Expect(text(dom)).To(ContainSubstring("Log in as an organization's admin"), "%.3000s", text(dom))
		Expect(text(dom)).To(ContainSubstring("/v1/auth/login"))

		shot := filepath.Join(os.TempDir(), "org-operator-docs.png")
		_, err = headlessChromium("--window-size=1280,900", "--screenshot="+shot, baseURL+"/docs")
		Expect(err).NotTo(HaveOccurred())
		info, err := os.Stat(shot)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Size()).To(BeNumerically(">", 10_000), "an empty screenshot")
		AddReportEntry("screenshot", shot)
		GinkgoWriter.Printf("screenshot of /docs: %s\n", shot)
	})
})
