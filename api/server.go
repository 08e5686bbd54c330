// Package api is neo's HTTP server (echo): generative search, recommend
// and generate endpoints over the engine, a drop-in subset of the Bleve
// HTTP API over the catalog (so existing Bleve clients keep working, with
// {"generative": {...}} query nodes as an extra), admin writes behind a
// bearer key, load shedding, Prometheus metrics, an OpenAPI document and a
// small embedded web page for trying it out.
//
// The server depends on small interfaces (Generator, Catalog, QueryParser)
// rather than on the concrete engine and catalog, so tests run it with
// fakes and `neo serve` can run without a model (catalog API only).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/labstack/echo/v4"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/sid"
)

// Generator runs engine requests; *plugin.Engine implements it.
type Generator interface {
	Stream(ctx context.Context, req plugin.Request, emit func(plugin.Segment) error) (*plugin.Response, error)
}

// DriftReporter is a Generator that can say what of the catalog its
// model never saw (plugin.Engine): /readyz and /metrics report it.
type DriftReporter interface {
	Drift() plugin.Drift
}

// ModelInfo is a Generator that can show its model's neo.json
// (plugin.Engine): /metrics reports it as neo_model_info.
type ModelInfo interface {
	Meta() *sid.ModelMeta
}

// QueueReporter is a Generator that can say how many model runs wait in
// its scheduler (plugin.Engine): /metrics reports neo_engine_queue_depth.
type QueueReporter interface {
	QueueDepth() int
}

// SIDChecker is a Generator that can say whether its model can write an
// SID (plugin.Engine): writes that name an SID it cannot are refused.
type SIDChecker interface {
	CheckSID(sid string) error
}

// Catalog is what the server needs of *index.Catalog.
type Catalog interface {
	Bleve() bleve.Index
	Get(id string) (index.Item, bool, error)
	Put(it index.Item) error
	PutMany(items []index.Item) []error
	Delete(id string) error
}

// Coder writes an item that has no SID with one (assign.Coder): a new item
// can then be generated at once. An error wrapping ErrCannotCode leaves
// the item to be written without an SID.
type Coder interface {
	Put(it index.Item) (string, error)
}

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	Catalog Catalog // required
	// Coder gives items PUT without an SID one (nil: they stay without,
	// until the next neo sids).
	Coder Coder
	// Generator decodes generative requests; nil means no model is loaded:
	// /v1/* answer 503 not_ready while the catalog API keeps working.
	Generator Generator
	// NotReadyReason tells /readyz and 503 answers why there is no model.
	NotReadyReason string
	// ParseQuery parses Bleve JSON queries (filters and _search); default
	// query.ParseQuery, which knows Bleve's own query types only.
	ParseQuery QueryParser
	IndexName  string // the Bleve API's index name (default "catalog")

	APIKey         string // bearer key for writes; "" refuses writes unless InsecureWrites
	ReadKey        string // bearer key for reads; "" = reads are open
	InsecureWrites bool   // allow writes without a key when APIKey is ""

	MaxInflight int           // requests executing at once (default 64)
	MaxQueue    int           // requests waiting for a slot (default 256)
	QueueWait   time.Duration // longest wait for a slot (default 10s)
	Timeout     time.Duration // per-request timeout (default 30s)
	// BodyTimeout bounds how long a client may take to send its request
	// body (default 30s; 408 past it). Bodies are read before a request
	// takes an execution slot, so slow senders cannot hold slots.
	BodyTimeout time.Duration
	MaxTimeout  time.Duration // cap on ?timeout= (default 5m)
	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// after its context ends (default 30s).
	ShutdownTimeout time.Duration
	Limits          Limits

	Logger  *slog.Logger // default slog.Default()
	Metrics *MetricSet   // default the package's Metrics
}

// Server is neo's HTTP server.
type Server struct {
	cfg    Config
	e      *echo.Echo
	dec    decoder
	lim    *limiter
	log    *slog.Logger
	m      *MetricSet
	routes map[string]bool // registered route paths, for metric labels
}

// New builds a server; it does not listen yet (see Serve, Handler).
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("api: Config.Catalog is required")
	}
	if cfg.ParseQuery == nil {
		cfg.ParseQuery = query.ParseQuery
	}
	if cfg.IndexName == "" {
		cfg.IndexName = "catalog"
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 64
	}
	if cfg.MaxQueue < 0 {
		cfg.MaxQueue = 0
	} else if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 256
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 5 * time.Minute
	}
	if cfg.MaxTimeout < cfg.Timeout {
		cfg.MaxTimeout = cfg.Timeout
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = Metrics
	}
	s := &Server{
		cfg:    cfg,
		e:      echo.New(),
		dec:    decoder{lim: cfg.Limits, parse: cfg.ParseQuery},
		lim:    newLimiter(cfg.MaxInflight, cfg.MaxQueue, cfg.QueueWait, cfg.Metrics),
		log:    cfg.Logger,
		m:      cfg.Metrics,
		routes: map[string]bool{},
	}
	if cfg.Generator != nil {
		s.m.modelReady.Set(1)
	} else {
		s.m.modelReady.Set(0)
	}
	if mi, ok := cfg.Generator.(ModelInfo); ok {
		s.m.SetModel(mi.Meta())
	} else {
		s.m.SetModel(nil)
	}
	s.e.HideBanner, s.e.HidePort = true, true
	s.e.HTTPErrorHandler = func(err error, c echo.Context) { writeError(c, err) }
	s.e.Use(s.observe, s.recover)
	s.routesSetup()
	return s, nil
}

// Handler is the server's http.Handler (for httptest and embedding).
func (s *Server) Handler() http.Handler { return s.e }

// Echo exposes the router, e.g. to list routes.
func (s *Server) Echo() *echo.Echo { return s.e }

func (s *Server) routesSetup() {
	read, write := s.auth(false), s.auth(true)
	add := func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		s.e.Add(method, path, h, m...)
		if method == http.MethodGet { // HEAD is GET without the body (net/http drops it)
			s.e.Add(http.MethodHead, path, h, m...)
		}
		s.routes[path] = true
	}
	// Operations and the page: always open, never queued.
	add(http.MethodGet, "/", s.page)
	add(http.MethodGet, "/openapi.json", s.openapi)
	add(http.MethodGet, "/healthz", s.healthz)
	add(http.MethodGet, "/readyz", s.readyz)
	add(http.MethodGet, "/metrics", echo.WrapHandler(http.HandlerFunc(s.metrics)))

	// Auth comes before admission, so unauthenticated callers cannot take
	// execution slots or queue places; so does reading the body, so slow
	// senders cannot either. GET and DELETE read theirs too: a request that
	// declares a body it never sends would otherwise hold its slot while
	// net/http drains the body before a large answer.
	admit := s.admit
	body, bulk := s.readBody(s.cfg.Limits.MaxBodyBytes), s.readBody(s.cfg.Limits.MaxBulkBytes)
	add(http.MethodPost, "/v1/search", s.search, read, body, admit)
	add(http.MethodPost, "/v1/recommend", s.recommend, read, body, admit)
	add(http.MethodPost, "/v1/generate", s.generate, read, body, admit)

	add(http.MethodGet, "/api", s.listIndexes, read, body, admit)
	add(http.MethodPost, "/api/_analyzerNames", s.analyzerNames, read, body, admit)
	add(http.MethodPost, "/api/_datetimeParserNames", s.datetimeParserNames, read, body, admit)
	add(http.MethodGet, "/api/:index", s.indexInfo, read, body, admit)
	add(http.MethodGet, "/api/:index/_count", s.count, read, body, admit)
	add(http.MethodGet, "/api/:index/_fields", s.fields, read, body, admit)
	add(http.MethodPost, "/api/:index/_search", s.bleveSearch, read, body, admit)
	add(http.MethodPost, "/api/:index/_bulk", s.bulk, write, bulk, admit)
	add(http.MethodGet, "/api/:index/:docID", s.docGet, read, body, admit)
	add(http.MethodPut, "/api/:index/:docID", s.docPut, write, body, admit)
	add(http.MethodDelete, "/api/:index/:docID", s.docDelete, write, body, admit)
}

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (up to ShutdownTimeout) and
// returns. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: 10 * time.Second,
		// readBody sets its own deadline for the body; this one bounds a
		// request on a route without it, so no connection waits forever.
		ReadTimeout: 10*time.Second + s.cfg.BodyTimeout,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("shutdown timed out; closing remaining connections", "err", err)
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// observe logs every request and records its metrics; it also turns a
// handler's error into the JSON answer here, so the status it logs is the
// one the client got.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			writeError(c, err)
		}
		req, res := c.Request(), c.Response()
		route := c.Path()
		if !s.routes[route] {
			route = "unmatched"
		}
		d := time.Since(start)
		status := res.Status
		method := metricMethod(req.Method)
		s.m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		s.m.latency.WithLabelValues(route, method).Observe(d.Seconds())
		level := slog.LevelInfo
		switch {
		case status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout:
			level = slog.LevelError
		case status == http.StatusTooManyRequests || status >= 500:
			level = slog.LevelWarn // load shedding, no model, deadlines: expected under stress
		case route == "/healthz" || route == "/readyz" || route == "/metrics":
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Int("status", status), slog.Float64("ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", res.Size), slog.String("remote", req.RemoteAddr),
		}
		if err != nil {
			ae := toAPIError(err)
			attrs = append(attrs, slog.String("code", ae.Code))
			if ae.Err != nil && status >= 500 {
				attrs = append(attrs, slog.String("err", ae.Err.Error()))
			}
		}
		s.log.LogAttrs(req.Context(), level, "http", attrs...)
		return nil
	}
}

// recover turns a handler panic into a 500 answer and a log line with the
// stack; the process keeps serving.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler { //nolint:errorlint // sentinel by identity, as net/http does
				panic(r)
			}
			s.m.panics.Inc()
			s.log.Error("panic in handler", "panic", fmt.Sprint(r), "method", c.Request().Method,
				"path", c.Request().URL.Path, "stack", string(debug.Stack()))
			err = &apiError{Status: http.StatusInternalServerError, Code: CodeInternal,
				Message: "internal error", Err: fmt.Errorf("panic: %v", r)}
		}()
		return next(c)
	}
}

// auth checks the bearer key: writes need APIKey (or are refused with 403
// when none is configured, unless InsecureWrites); reads need ReadKey or
// APIKey when a ReadKey is configured.
func (s *Server) auth(write bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key, hasKey := bearer(c.Request())
			if write {
				if s.cfg.APIKey == "" {
					if s.cfg.InsecureWrites {
						return next(c)
					}
					return errf(http.StatusForbidden, CodeWritesDisabled,
						"writes are disabled: no API key is configured; set NEO_API_KEY (or --api-key) and send \"Authorization: Bearer <key>\", or start the server with --insecure-writes")
				}
				if !hasKey || !keyEqual(key, s.cfg.APIKey) {
					return errf(http.StatusUnauthorized, CodeUnauthorized, "writes need \"Authorization: Bearer <API key>\"")
				}
				return next(c)
			}
			if s.cfg.ReadKey == "" {
				return next(c)
			}
			if !hasKey || !(keyEqual(key, s.cfg.ReadKey) || (s.cfg.APIKey != "" && keyEqual(key, s.cfg.APIKey))) {
				return errf(http.StatusUnauthorized, CodeUnauthorized, "reads need \"Authorization: Bearer <read key>\"")
			}
			return next(c)
		}
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) < len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	k := strings.TrimSpace(h[len(p):])
	return k, k != ""
}

// keyEqual compares keys in constant time (hashing first evens out lengths).
func keyEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// admit applies the request's timeout (config, or ?timeout= as Bleve's
// HTTP handler takes it: a duration such as "500ms", or plain
// milliseconds) and takes an execution slot.
func (s *Server) admit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		d := s.cfg.Timeout
		if v := c.QueryParam("timeout"); v != "" {
			t, err := parseTimeout(v)
			if err != nil {
				return err
			}
			d = min(t, s.cfg.MaxTimeout)
		}
		req := c.Request()
		ctx, cancel := context.WithTimeout(req.Context(), d)
		defer cancel()
		c.SetRequest(req.WithContext(ctx))
		release, err := s.lim.acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
		return next(c)
	}
}

func parseTimeout(v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(time.Duration(1<<62)/time.Millisecond) {
			n = int64(time.Duration(1<<62) / time.Millisecond)
		}
		d = time.Duration(n) * time.Millisecond
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, badRequest(CodeBadTimeout, "timeout %q is not a duration (e.g. \"500ms\", \"2s\") or a number of milliseconds", clip(v))
	}
	if d <= 0 {
		return 0, badRequest(CodeBadTimeout, "timeout must be positive, got %q", clip(v))
	}
	return d, nil
}

// bodyKey holds the body that readBody read, for body to return.
const bodyKey = "neo.body"

// readBody reads the request body (up to limit bytes) before admission,
// under a read deadline of BodyTimeout, so that a client sending one byte
// a second holds a connection, not an execution slot.
func (s *Server) readBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rc := http.NewResponseController(c.Response().Writer)
			// ErrNotSupported (httptest recorders, HTTP/2 test shims) leaves
			// the body without a deadline; net/http's connections support it.
			timed := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)) == nil
			b, err := readLimited(c, limit)
			if timed {
				_ = rc.SetReadDeadline(time.Time{})
			}
			if err != nil {
				if isTimeout(err) {
					c.Response().Header().Set("Connection", "close")
					return errf(http.StatusRequestTimeout, CodeBodyTimeout, "the request body did not arrive within %s", s.cfg.BodyTimeout)
				}
				return err
			}
			c.Set(bodyKey, b)
			return next(c)
		}
	}
}

// body is the request body: the one readBody read, or (for a route
// without it) the body read here, up to limit bytes (413 past it).
func (s *Server) body(c echo.Context, limit int64) ([]byte, error) {
	if b, ok := c.Get(bodyKey).([]byte); ok {
		return b, nil
	}
	return readLimited(c, limit)
}

func readLimited(c echo.Context, limit int64) ([]byte, error) {
	req := c.Request()
	if req.ContentLength > limit {
		return nil, errf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is %d bytes, the limit is %d", req.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is larger than the limit of %d bytes", limit)
		}
		// Before the context: net/http cancels it on any read error.
		if isTimeout(err) {
			return nil, err
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, badRequest(CodeBadJSON, "error reading request body: %v", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is 200 when both the model and the index are loaded.
func (s *Server) readyz(c echo.Context) error {
	n, err := s.cfg.Catalog.Bleve().DocCount()
	indexOK := err == nil
	modelOK := s.cfg.Generator != nil
	out := map[string]any{"model": modelOK, "index": indexOK, "items": n}
	if d, ok := s.cfg.Generator.(DriftReporter); ok {
		dr := d.Drift()
		out["drift"] = map[string]any{"known": dr.Known, "catalog_items": dr.CatalogItems, "unseen_items": dr.Unseen,
			"generated": dr.Generated, "generated_unseen": dr.GeneratedUnseen, "generated_unseen_share": dr.UnseenShare(),
			"unwritable_items": dr.Unwritable}
	}
	if modelOK && indexOK {
		out["status"] = "ready"
		return c.JSON(http.StatusOK, out)
	}
	msg := "index not readable"
	if err != nil {
		msg += ": " + err.Error()
	}
	if !modelOK {
		msg = s.notReadyMessage()
	}
	out["status"] = "not_ready"
	out["error"] = errorDetail{Code: CodeNotReady, Message: msg}
	c.Response().Header().Set("Retry-After", "5")
	return c.JSON(http.StatusServiceUnavailable, out)
}

func (s *Server) notReadyMessage() string {
	msg := "no model is loaded; search, recommend and generate are unavailable (the catalog API and plain _search work)"
	if s.cfg.NotReadyReason != "" {
		msg += ": " + s.cfg.NotReadyReason
	}
	return msg
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if n, err := s.cfg.Catalog.Bleve().DocCount(); err == nil {
		s.m.items.Set(float64(n))
	}
	if d, ok := s.cfg.Generator.(DriftReporter); ok {
		dr := d.Drift()
		s.m.unseen.Set(float64(dr.Unseen))
		s.m.generated.Set(float64(dr.Generated))
		s.m.generatedUnseen.Set(float64(dr.GeneratedUnseen))
		s.m.unwritable.Set(float64(dr.Unwritable))
	}
	if q, ok := s.cfg.Generator.(QueueReporter); ok {
		s.m.engineQueue.Set(float64(q.QueueDepth()))
	}
	s.m.handler().ServeHTTP(w, r)
}

// metricMethod is the method label of a request: the standard methods by
// name, anything else "other", so that a client cannot grow /metrics (and
// the heap) by inventing methods.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
