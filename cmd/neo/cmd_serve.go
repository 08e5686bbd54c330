package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/neo-search/neo/api/serving"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/envflag"
	"github.com/neo-search/neo/internal/fsutil"

	"github.com/neo-search/neo/api"
)

func init() {
	register(command{
		name:    "serve",
		summary: "serve search, recommend, generate and the Bleve API over HTTP",
		run:     runServe,
	})
}

// serveOptions is everything `neo serve` is configured with; flags take
// their defaults from NEO_* environment variables.
type serveOptions struct {
	addr, logLevel, logFormat string
	serving.Options
}

// serveFlags declares the flags shared by `neo serve` and `neo bench
// serve`; the returned func finishes o once the flags are parsed.
func serveFlags(fs *flag.FlagSet, env *envflag.Defaults, o *serveOptions) (finish func()) {
	root, _ := fsutil.RepoRoot()
	defModel, defDemo := "", ""
	if root != "" {
		if st, err := os.Stat(filepath.Join(root, "testdata", "model")); err == nil && st.IsDir() {
			defModel = filepath.Join(root, "testdata", "model")
		}
		if _, err := os.Stat(filepath.Join(root, "testdata", "demo", folder.ItemsFile)); err == nil {
			defDemo = filepath.Join(root, "testdata", "demo")
		}
	}
	fs.StringVar(&o.ModelDir, "model", env.String("NEO_MODEL", defModel), `model directory (env NEO_MODEL); "" or a missing directory serves without a model: search/recommend/generate answer 503 not_ready, the catalog API works`)
	fs.StringVar(&o.DemoDir, "demo", env.String("NEO_DEMO", defDemo), `data folder imported (with SIDs assigned) when the index directory does not exist yet (env NEO_DEMO); "" = start with an empty index`)
	defInter := ""
	if defDemo != "" {
		defInter = filepath.Join(defDemo, folder.InteractionsFile)
	}
	fs.StringVar(&o.Interactions, "interactions", env.String("NEO_INTERACTIONS", defInter), `interactions NDJSON the itemknn, seqknn and popularity experts of fusion read at start (env NEO_INTERACTIONS; default: the demo folder's); "" = bm25 only`)
	fs.StringVar(&o.IndexName, "index-name", env.String("NEO_INDEX_NAME", "catalog"), "index name of the Bleve API routes /api/{index}/... (env NEO_INDEX_NAME)")
	fs.StringVar(&o.ORTLib, "ort-lib", env.String("NEO_ORT_LIB", os.Getenv("ONNXRUNTIME_LIB")), "onnxruntime shared library (env NEO_ORT_LIB or ONNXRUNTIME_LIB; default lookup when empty)")
	fs.IntVar(&o.Threads, "threads", env.Int("NEO_THREADS", 0), "onnxruntime intra-op threads (env NEO_THREADS; 0 = onnxruntime's default)")
	fs.IntVar(&o.MaxBatch, "max-batch", env.Int("NEO_MAX_BATCH", 0), "rows per batched model run (env NEO_MAX_BATCH; 0 = engine default)")
	fs.DurationVar(&o.MergeWait, "merge-wait", env.Duration("NEO_MERGE_WAIT", 0), "longest a decode step waits for sampling requests about to step, to share its run (env NEO_MERGE_WAIT; 0 = engine default 300µs; negative: never wait)")
	fs.IntVar(&o.MergeRows, "merge-rows", env.Int("NEO_MERGE_ROWS", 0), "rows per decode step that merges requests (env NEO_MERGE_ROWS; 0 = engine default 16; on a GPU use --max-batch)")
	fs.IntVar(&o.EngineQueue, "engine-queue", env.Int("NEO_ENGINE_QUEUE", 0), "requests waiting for a decode slot inside the engine (env NEO_ENGINE_QUEUE; 0 = engine default)")
	a := &o.API
	fs.IntVar(&a.MaxInflight, "max-inflight", env.Int("NEO_MAX_INFLIGHT", 64), "requests executing at once (env NEO_MAX_INFLIGHT)")
	fs.IntVar(&a.MaxQueue, "max-queue", env.Int("NEO_MAX_QUEUE", 256), "requests waiting for an execution slot; past it: 429 with Retry-After (env NEO_MAX_QUEUE)")
	fs.DurationVar(&a.QueueWait, "queue-wait", env.Duration("NEO_QUEUE_WAIT", 10*time.Second), "longest wait in the queue before 503 with Retry-After (env NEO_QUEUE_WAIT)")
	fs.DurationVar(&a.Timeout, "timeout", env.Duration("NEO_TIMEOUT", 30*time.Second), "per-request timeout; ?timeout= overrides it per request (env NEO_TIMEOUT)")
	fs.DurationVar(&a.BodyTimeout, "body-timeout", env.Duration("NEO_BODY_TIMEOUT", 30*time.Second), "longest a client may take to send a request body; past it: 408 (env NEO_BODY_TIMEOUT)")
	fs.DurationVar(&a.MaxTimeout, "max-timeout", env.Duration("NEO_MAX_TIMEOUT", 5*time.Minute), "cap on ?timeout= (env NEO_MAX_TIMEOUT)")
	fs.IntVar(&a.Limits.MaxK, "max-k", env.Int("NEO_MAX_K", 100), "most items per answer (env NEO_MAX_K)")
	fs.IntVar(&a.Limits.MaxTokens, "max-tokens", env.Int("NEO_MAX_TOKENS", 512), "largest max_tokens of a generation (env NEO_MAX_TOKENS)")
	fs.IntVar(&a.Limits.MaxHistory, "max-history", env.Int("NEO_MAX_HISTORY", 200), "most history items of a request (env NEO_MAX_HISTORY)")
	var maxBody, maxBulk int
	fs.IntVar(&maxBody, "max-body", env.Int("NEO_MAX_BODY", 1<<20), "largest request body in bytes, _bulk aside (env NEO_MAX_BODY)")
	fs.IntVar(&maxBulk, "max-bulk-body", env.Int("NEO_MAX_BULK_BODY", 64<<20), "largest _bulk body in bytes (env NEO_MAX_BULK_BODY)")
	fs.StringVar(&o.logLevel, "log-level", env.String("NEO_LOG_LEVEL", "info"), "debug, info, warn or error (env NEO_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env.String("NEO_LOG_FORMAT", "text"), "text or json (env NEO_LOG_FORMAT)")
	return func() {
		o.API.Limits.MaxBodyBytes, o.API.Limits.MaxBulkBytes = int64(maxBody), int64(maxBulk)
	}
}

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	env := &envflag.Defaults{}
	var o serveOptions
	fs.StringVar(&o.addr, "addr", env.String("NEO_ADDR", "127.0.0.1:8080"), "listen address (env NEO_ADDR)")
	fs.StringVar(&o.IndexDir, "index", env.String("NEO_INDEX", ".neo/index"), "catalog index directory (env NEO_INDEX)")
	fs.StringVar(&o.API.APIKey, "api-key", env.String("NEO_API_KEY", ""), "bearer key for writes (env NEO_API_KEY, preferred: flags show in ps); none = writes refused unless --insecure-writes")
	fs.StringVar(&o.API.ReadKey, "read-key", env.String("NEO_READ_KEY", ""), "bearer key for reads (env NEO_READ_KEY); none = reads are open")
	fs.BoolVar(&o.API.InsecureWrites, "insecure-writes", env.Bool("NEO_INSECURE_WRITES", false), "allow writes without a key when no API key is set (env NEO_INSECURE_WRITES)")
	fs.DurationVar(&o.API.ShutdownTimeout, "shutdown-timeout", env.Duration("NEO_SHUTDOWN_TIMEOUT", 30*time.Second), "how long SIGINT/SIGTERM waits for in-flight requests (env NEO_SHUTDOWN_TIMEOUT)")
	finish := serveFlags(fs, env, &o)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo serve [flags]\n\nWith no flags: serves the demo catalog (imported into .neo/index on first run) and testdata/model on 127.0.0.1:8080.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, true); !ok {
		return code
	}
	finish()
	if env.Err != nil {
		fmt.Fprintln(os.Stderr, "neo serve:", env.Err)
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if err := needModel(fs, o.ModelDir); err != nil {
		fmt.Fprintln(os.Stderr, "neo serve:", err)
		return 2
	}
	log, err := newLogger(o.logLevel, o.logFormat, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo serve:", err)
		return 2
	}
	slog.SetDefault(log)
	o.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling: a second
	// Ctrl-C ends the process at once instead of waiting for the drain.
	go func() { <-ctx.Done(); stop() }()
	st, err := serving.Open(ctx, o.Options, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer st.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		log.Error("cannot listen", "addr", o.addr, "err", err)
		return 1
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/",
		"index", o.IndexDir, "model", st.ModelState(), "writes", writesState(o.API))
	if err := st.Server.Serve(ctx, ln); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// needModel refuses to start without a model the user did not ask for:
// the defaults come from the checkout around the working directory, so
// outside one --model has no default, and serving without a model by
// accident would answer 503 to every search.
func needModel(fs *flag.FlagSet, modelDir string) error {
	if modelDir != "" {
		return nil
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "model" })
	if _, ok := os.LookupEnv("NEO_MODEL"); set || ok {
		return nil // --model "" asks for the catalog API alone
	}
	wd, _ := os.Getwd()
	return fmt.Errorf("no model to serve: %s is not inside a neo checkout (no go.mod with testdata/model at or above it), so --model has no default; "+
		"pass --model DIR (a model directory written by neo train or neo export), run neo serve from a checkout, or pass --model \"\" to serve the catalog API without a model", wd)
}

func writesState(c api.Config) string {
	switch {
	case c.APIKey != "":
		return "bearer key"
	case c.InsecureWrites:
		return "open (--insecure-writes)"
	}
	return "disabled (no NEO_API_KEY)"
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
