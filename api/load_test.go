package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/neo-search/neo/index"
)

// TestOverload sends more concurrent requests than slots + queue to a slow
// engine over loopback: every answer is 200 or a 429/503 with Retry-After,
// none hangs (each has a client deadline far above the engine delay), and
// the excess is shed rather than served late.
func TestOverload(t *testing.T) {
	const inflight, queue, clients = 2, 3, 24
	e := newEnv(t, func(c *Config) {
		c.MaxInflight, c.MaxQueue, c.QueueWait = inflight, queue, 2*time.Second
	})
	e.gen.delay = 150 * time.Millisecond
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Post(e.ts.URL+"/v1/search", "application/json", strings.NewReader(`{"query":"gold"}`))
			if err != nil {
				t.Errorf("request failed (hung or dropped): %v", err)
				return
			}
			defer resp.Body.Close()
			var eb errorBody
			json.NewDecoder(resp.Body).Decode(&eb)
			switch resp.StatusCode {
			case 200:
			case 429, 503:
				if resp.Header.Get("Retry-After") == "" || eb.Error.Code != CodeOverloaded {
					t.Errorf("%d without Retry-After or overloaded code: %+v", resp.StatusCode, eb)
				}
			default:
				t.Errorf("unexpected status %d: %+v", resp.StatusCode, eb)
			}
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	t.Logf("answers: %v", counts)
	if counts[200] < inflight {
		t.Fatalf("only %d requests served", counts[200])
	}
	if counts[429]+counts[503] == 0 {
		t.Fatalf("nothing shed with %d clients for %d slots + %d queue", clients, inflight, queue)
	}
	if n := e.gen.calls.Load(); n > int64(clients-counts[429]-counts[503]) {
		t.Fatalf("engine ran %d times for %d served", n, counts[200])
	}
	// The queue drained and the server answers normally again.
	if resp, b := e.do("POST", "/v1/search", `{"query":"gold"}`); resp.StatusCode != 200 {
		t.Fatalf("after overload: %d %s", resp.StatusCode, b)
	}
	_, b := e.do("GET", "/metrics", "")
	if !regexp.MustCompile(`neo_http_rejected_total\{reason="queue_full"\} [1-9]`).Match(b) {
		t.Error("rejections not counted in metrics")
	}
}

// TestQueueWait: a request that waits in the queue longer than QueueWait
// gets 503 with Retry-After.
func TestQueueWait(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxInflight, c.MaxQueue, c.QueueWait = 1, 5, 50*time.Millisecond })
	e.gen.delay = 400 * time.Millisecond
	e.gen.started = make(chan struct{}, 1)
	go e.do("POST", "/v1/search", `{"query":"gold"}`)
	<-e.gen.started
	resp, b := e.do("POST", "/v1/search", `{"query":"gold"}`)
	checkError(t, resp, b, http.StatusServiceUnavailable, CodeOverloaded)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

// TestGracefulShutdown: after Serve's context ends, a request in flight
// still gets its full answer, new connections are refused, Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	cat := testCatalog(t)
	gen := &fakeGen{cat: cat, delay: 300 * time.Millisecond, started: make(chan struct{}, 1)}
	srv, err := New(Config{Catalog: cat, Generator: gen, Logger: quietLogger(), Metrics: NewMetricSet()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	type result struct {
		status int
		items  int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post(url+"/v1/search", "application/json", strings.NewReader(`{"query":"gold"}`))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var a Answer
		err = json.NewDecoder(resp.Body).Decode(&a)
		done <- result{status: resp.StatusCode, items: len(a.Items), err: err}
	}()
	select {
	case <-gen.started:
	case <-time.After(10 * time.Second):
		t.Fatal("request never reached the engine")
	}
	cancel() // as SIGTERM does in neo serve
	r := <-done
	if r.err != nil || r.status != 200 || r.items == 0 {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

// TestOpenAPIMatchesRoutes: every route of the router is in /openapi.json
// and every path+method of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, nil)
	_, b := e.do("GET", "/openapi.json", "")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if m == "parameters" {
				continue
			}
			inDoc[strings.ToUpper(m)+" "+p] = true
			var o struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil || o.OperationID == "" || len(o.Responses) == 0 {
				t.Errorf("%s %s: operation lacks operationId or responses", m, p)
			}
		}
	}
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	inRouter := map[string]bool{}
	for _, r := range e.srv.Echo().Routes() {
		if r.Method == http.MethodHead {
			continue // every GET route answers HEAD too; the document lists the GETs
		}
		inRouter[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, extra []string
	for k := range inRouter {
		if !inDoc[k] {
			missing = append(missing, k)
		}
	}
	for k := range inDoc {
		if !inRouter[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented: %v; documented but not routed: %v", missing, extra)
	}
	// Every component reference resolves.
	var full map[string]any
	json.Unmarshal(b, &full)
	refs := regexp.MustCompile(`"\$ref":"#/components/([a-zA-Z]+)/([A-Za-z]+)"`).FindAllStringSubmatch(string(compact(t, b)), -1)
	comps := full["components"].(map[string]any)
	for _, r := range refs {
		if sec, ok := comps[r[1]].(map[string]any); !ok || sec[r[2]] == nil {
			t.Errorf("dangling $ref %s/%s", r[1], r[2])
		}
	}
}

func compact(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

// TestOpenAPIValid: the served document validates as OpenAPI 3.0 with a
// real OpenAPI library (swagger-cli found `exclusiveMinimum: 0`, a 3.1
// form, in this 3.0.3 document).
func TestOpenAPIValid(t *testing.T) {
	e := newEnv(t, nil)
	_, b := e.do("GET", "/openapi.json", "")
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSlowBodies: clients that send their bodies a byte at a time hold
// connections, not execution slots. With every slot's worth of slow senders
// connected, a real search is still answered, and each slow sender gets 408
// once BodyTimeout passes. Before bodies were read ahead of admission the
// search got 503 (the queue wait ran out behind the slow bodies).
func TestSlowBodies(t *testing.T) {
	const inflight, slow = 2, 6
	cat := testCatalog(t)
	gen := &fakeGen{cat: cat}
	srv, err := New(Config{Catalog: cat, Generator: gen, Logger: quietLogger(), Metrics: NewMetricSet(),
		MaxInflight: inflight, MaxQueue: 4, QueueWait: 300 * time.Millisecond, BodyTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveLoopback(t, srv)

	statuses := make(chan string, slow)
	var started sync.WaitGroup
	for i := 0; i < slow; i++ {
		started.Add(1)
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				statuses <- "dial: " + err.Error()
				started.Done()
				return
			}
			defer conn.Close()
			body := `{"query":"gold"}`
			_, _ = conn.Write([]byte("POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
				strconv.Itoa(len(body)) + "\r\n\r\n" + body[:1]))
			started.Done()
			// Trickle the rest far slower than BodyTimeout allows.
			stop := time.After(5 * time.Second)
			go func() {
				for j := 1; j < len(body); j++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
					if _, err := conn.Write([]byte{body[j]}); err != nil {
						return
					}
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				statuses <- "read: " + err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			statuses <- strconv.Itoa(resp.StatusCode) + " " + errCode(b)
		}()
	}
	started.Wait()
	time.Sleep(200 * time.Millisecond) // let the server read every header
	resp, err := http.Post("http://"+addr+"/v1/search", "application/json", strings.NewReader(`{"query":"gold"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("search behind %d slow bodies: %d %s", slow, resp.StatusCode, b)
	}
	for i := 0; i < slow; i++ {
		if got := <-statuses; got != "408 "+CodeBodyTimeout {
			t.Errorf("slow sender %d: got %q, want 408 %s", i, got, CodeBodyTimeout)
		}
	}
}

// TestSlowGETBody: a GET whose headers declare a body that never comes is
// answered 408 after BodyTimeout instead of holding its execution slot
// (net/http drains an unread body before writing an answer over its 2 KiB
// buffer, and without a deadline that read never ends). Found by review:
// before the fix the search below got 429.
func TestSlowGETBody(t *testing.T) {
	cat := testCatalog(t)
	if err := cat.Put(index.Item{ID: "big", Type: "hat", Title: "Big hat", Description: strings.Repeat("lorem ipsum ", 600)}); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Catalog: cat, Generator: &fakeGen{cat: cat}, Logger: quietLogger(), Metrics: NewMetricSet(),
		MaxInflight: 1, MaxQueue: -1, QueueWait: 200 * time.Millisecond, BodyTimeout: 500 * time.Millisecond, Timeout: time.Second,
		InsecureWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveLoopback(t, srv)
	for _, method := range []string{"GET", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(method + " /api/catalog/big HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to a %s whose body never came: %v", method, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("%s with an unsent body: %d, want 408", method, resp.StatusCode)
			}
			sr, err := http.Post("http://"+addr+"/v1/search", "application/json", strings.NewReader(`{"query":"gold"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(sr.Body)
			sr.Body.Close()
			if sr.StatusCode != http.StatusOK {
				t.Fatalf("search after a %s with an unsent body: %d %s", method, sr.StatusCode, b)
			}
		})
	}
}

// serveLoopback serves srv on a fresh loopback port (a real net/http
// server, with its connection deadlines) until the test ends, and returns
// the address.
func serveLoopback(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Serve(ctx, ln)
	return ln.Addr().String()
}
