package api

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium runs headless Chromium on url with extra flags and returns stdout.
func chromium(t *testing.T, url string, extra ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install -y --no-install-recommends chromium)")
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--window-size=1200,900",
		"--virtual-time-budget=15000"}
	args = append(args, extra...)
	args = append(args, url)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
	}
	return out
}

// TestPageInChromium loads the page in headless Chromium against a server
// with the fake engine: ?q= runs a search on load and cards are rendered
// with the item's fields; ?ask= streams a mixed answer; without a model the
// page falls back to keyword results.
func TestPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	tests := []struct {
		name  string
		cfg   func(*Config)
		query string
		want  []string
	}{
		{"search", nil, "/?q=gold+evening", []string{`class="card"`, "Gold evening clutch", "Aurora", "$129.00", "color: gold", "In stock", "[SID:"}},
		{"recommend", nil, "/?history=bag-1", []string{`class="card"`, "recommendations"}},
		{"mixed answer, ask alone", nil, "/?ask=gold", []string{`class="card"`, `class="ref"`, "You might like", "asked: gold; history: 0", "tokens"}},
		{"mixed answer, ask and history", nil, "/?ask=gold&askHistory=bag-1", []string{`class="card"`, `class="ref"`, "asked: gold; history: 1", "tokens"}},
		{"no model falls back to BM25", func(c *Config) { c.Generator = nil }, "/?q=gold", []string{`class="card"`, "Model not loaded", "keyword matches"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			dom := string(chromium(t, e.ts.URL+tc.query, "--dump-dom"))
			for _, w := range tc.want {
				if !strings.Contains(dom, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if n := strings.Count(dom, `class="card"`); n < 1 {
				t.Errorf("%d cards rendered", n)
			}
			if t.Failed() {
				t.Logf("DOM:\n%s", dom)
			}
		})
	}
	for _, shot := range []struct{ name, query string }{{"page.png", "/?q=gold"}, {"page-mixed.png", "/?ask=gold+gift"}, {"page-mixed-history.png", "/?ask=gold+gift&askHistory=bag-1"}} {
		t.Run("screenshot "+shot.name, func(t *testing.T) {
			e := newEnv(t, nil)
			png := filepath.Join(t.TempDir(), shot.name)
			if d := os.Getenv("NEO_SCREENSHOT_DIR"); d != "" {
				png = filepath.Join(d, shot.name) // to look at it
			}
			chromium(t, e.ts.URL+shot.query, "--screenshot="+png)
			b, err := os.ReadFile(png)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 10000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Fatalf("screenshot is %d bytes, not a page PNG", len(b))
			}
		})
	}
}
