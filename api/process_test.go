package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neo-search/neo/onnx"
)

// These tests run the real `neo serve` binary, built once per test run.

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func neoBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the neo binary")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "neo-api-test-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "neo")
		out, err := exec.Command("go", "build", "-o", buildBin, "github.com/neo-search/neo/cmd/neo").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// neoProc is a running `neo serve`.
type neoProc struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func (p *neoProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startNeo runs `neo serve` on 127.0.0.1:0 with args and extra environment
// (NEO_* variables of the caller's environment are dropped), and waits for
// its "listening" log line.
func startNeo(t *testing.T, bin string, env []string, args ...string) *neoProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEO_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &neoProc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatalf("neo serve exited before listening:\n%s", p.log())
	case <-time.After(3 * time.Minute):
		t.Fatalf("neo serve did not start listening:\n%s", p.log())
	}
	return p
}

func (p *neoProc) request(t *testing.T, method, path, body, key string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, p.log())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAckedWriteSurvivesKill9: writes acknowledged by the server are in
// the catalog after the process is killed with SIGKILL right after the
// last answer, and restarted on the same index. Without a model, the
// catalog API and plain _search work and /v1 answers 503.
func TestAckedWriteSurvivesKill9(t *testing.T) {
	bin := neoBinary(t)
	idx := filepath.Join(t.TempDir(), "index")
	const key = "kill9-key"
	env := []string{"NEO_API_KEY=" + key}
	args := []string{"--index", idx, "--demo", "", "--model", ""}

	p := startNeo(t, bin, env, args...)
	if st, b := p.request(t, "POST", "/v1/search", `{"query":"gold"}`, ""); st != 503 || errCode(b) != CodeNotReady {
		t.Fatalf("search without a model: %d %s", st, b)
	}
	want := map[string]string{}
	for i := range 5 {
		id := fmt.Sprintf("k9-%d", i)
		want[id] = fmt.Sprintf("Item number %d", i)
		if st, b := p.request(t, "PUT", "/api/catalog/"+id, fmt.Sprintf(`{"type":"hat","title":%q,"price":%d}`, want[id], 10+i), key); st != 200 {
			t.Fatalf("PUT %s: %d %s", id, st, b)
		}
	}
	var bulk strings.Builder
	for i := 5; i < 8; i++ {
		id := fmt.Sprintf("k9-%d", i)
		want[id] = fmt.Sprintf("Bulk item %d", i)
		fmt.Fprintf(&bulk, "{\"id\":%q,\"type\":\"hat\",\"title\":%q}\n", id, want[id])
	}
	st, b := p.request(t, "POST", "/api/catalog/_bulk", bulk.String(), key)
	// SIGKILL the moment the last acknowledgement arrived.
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	if st != 200 || !strings.Contains(string(b), `"status":"ok"`) {
		t.Fatalf("bulk: %d %s", st, b)
	}

	p = startNeo(t, bin, env, args...)
	for id, title := range want {
		st, b := p.request(t, "GET", "/api/catalog/"+id, "", "")
		var d Doc
		if st != 200 || json.Unmarshal(b, &d) != nil || d.Item.Title != title {
			t.Errorf("after kill -9, GET %s: %d %s", id, st, b)
		}
	}
	if st, b := p.request(t, "GET", "/api/catalog/_count", "", ""); st != 200 || !strings.Contains(string(b), `"count":8`) {
		t.Errorf("count after restart: %d %s", st, b)
	}
	if st, b := p.request(t, "POST", "/api/catalog/_search", `{"query":{"match":"bulk"}}`, ""); st != 200 || !strings.Contains(string(b), `"total_hits":3`) {
		t.Errorf("_search after restart: %d %s", st, b)
	}

	// SIGTERM: a clean, graceful exit.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(p.log(), "msg=stopped") {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.log())
	}
}

// TestNewItemSIDSurvivesKill9 (issue 18): an item PUT without an SID on
// the demo server gets one in the answer, is returned by the next search
// for its title (the model directory's fusion defaults, no type) and
// accepted as history; items of a _bulk without SIDs get distinct ones;
// after SIGKILL right after the last answer and a restart, each has the
// SID it was answered with.
func TestNewItemSIDSurvivesKill9(t *testing.T) {
	bin := neoBinary(t)
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found: ", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(t.TempDir(), "index")
	const key = "new-item-key"
	env := []string{"NEO_API_KEY=" + key}
	args := []string{"--index", idx, "--demo", filepath.Join(root, "testdata", "demo"), "--model", filepath.Join(root, "testdata", "model")}
	p := startNeo(t, bin, env, args...)
	const title = "Zanzibar Quillwork Opal Evening Scarf"
	st, b := p.request(t, "PUT", "/api/catalog/zz-new-1", `{"type":"scarf","title":"`+title+`","brand":"Verdance","attributes":{"color":"ruby red","material":"cashmere"},"in_stock":true}`, key)
	var put struct{ Status, ID, SID string }
	if st != 200 || json.Unmarshal(b, &put) != nil || put.SID == "" {
		t.Fatalf("PUT: %d %s (want an SID in the answer)", st, b)
	}
	st, b = p.request(t, "POST", "/v1/search", `{"query":"`+strings.ToLower(title)+`","k":10}`, "")
	if st != 200 || !strings.Contains(string(b), `"zz-new-1"`) {
		t.Fatalf("search for the new item's title: %d %s", st, b)
	}
	if st, b := p.request(t, "POST", "/v1/recommend", `{"history":["zz-new-1"],"k":5}`, ""); st != 200 {
		t.Fatalf("recommend from the new item: %d %s", st, b)
	}
	bulk := `{"id":"zz-new-2","type":"ring","title":"Quillwork Opal Ring"}
{"id":"zz-new-3","type":"ring","title":"Quillwork Opal Ring"}
`
	st, b = p.request(t, "POST", "/api/catalog/_bulk", bulk, key)
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	var ans BulkAnswer
	if st != 200 || json.Unmarshal(b, &ans) != nil || ans.Status != "ok" || len(ans.Results) != 2 {
		t.Fatalf("bulk: %d %s", st, b)
	}
	want := map[string]string{"zz-new-1": put.SID}
	for _, r := range ans.Results {
		if r.SID == "" {
			t.Fatalf("bulk line %d without an SID in the answer: %s", r.Line, b)
		}
		want[r.ID] = r.SID
	}
	if want["zz-new-2"] == want["zz-new-3"] {
		t.Fatalf("two new items share SID %s", want["zz-new-2"])
	}
	p = startNeo(t, bin, env, args...)
	for id, code := range want {
		st, b := p.request(t, "GET", "/api/catalog/"+id, "", "")
		var d Doc
		if st != 200 || json.Unmarshal(b, &d) != nil || d.Item.SID != code {
			t.Errorf("after kill -9, GET %s: %d %s, want SID %s", id, st, b, code)
		}
	}
}

// TestServeRefusesWritesWithoutKey: with no NEO_API_KEY, writes are 403.
func TestServeRefusesWritesWithoutKey(t *testing.T) {
	bin := neoBinary(t)
	p := startNeo(t, bin, nil, "--index", filepath.Join(t.TempDir(), "index"), "--demo", "", "--model", "")
	if st, b := p.request(t, "PUT", "/api/catalog/a", `{"type":"hat"}`, ""); st != 403 || errCode(b) != CodeWritesDisabled {
		t.Fatalf("%d %s", st, b)
	}
}

// TestReadmeCurl runs the README's "HTTP API" examples (one curl command
// per line of testdata/readme_curl.txt, against $NEO) with the curl binary
// against the built server. Every line must answer 2xx; while no model is
// loaded, the lines that need it (/v1/*, generative queries) must answer
// 503 not_ready.
func TestReadmeCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	bin := neoBinary(t)
	const key = "readme-key"
	p := startNeo(t, bin, []string{"NEO_API_KEY=" + key}, "--index", filepath.Join(t.TempDir(), "index"))
	ready, _ := p.request(t, "GET", "/readyz", "", "")
	f, err := os.ReadFile("testdata/readme_curl.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(f), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if !strings.HasPrefix(line, "curl ") {
			t.Fatalf("line %d is not a curl command: %s", i+1, line)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", line+` -o /dev/null -w '%{http_code}'`)
		cmd.Env = append(os.Environ(), "NEO="+p.base, "NEO_API_KEY="+key)
		out, err := cmd.Output()
		cancel()
		code := strings.TrimSpace(string(out))
		if err != nil {
			t.Errorf("line %d: %v (%s)", i+1, err, line)
			continue
		}
		needsModel := strings.Contains(line, "/v1/") || strings.Contains(line, "/readyz") || strings.Contains(line, `"generative"`)
		switch {
		case strings.HasPrefix(code, "2"):
		case needsModel && ready != 200 && code == "503":
			t.Logf("line %d: 503 (no model loaded): %.80s", i+1, line)
		default:
			t.Errorf("line %d answered %s: %s", i+1, code, line)
		}
	}
	if n < 10 {
		t.Fatalf("only %d examples", n)
	}
}
