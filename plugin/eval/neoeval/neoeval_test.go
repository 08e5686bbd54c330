package neoeval

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/onnx"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
)

func TestParseFusion(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
		want     map[string]prior.Weights
	}{
		{"empty is the model directory's", "", true, nil},
		{"none", "none", true, map[string]prior.Weights{"search": {}, "recommend": {}}},
		{"one object for every task", `{"bm25":2,"rrf":1}`, true, map[string]prior.Weights{"search": {"bm25": 2, "rrf": 1}, "recommend": {"bm25": 2, "rrf": 1}}},
		{"per task", `{"search":{"bm25":2},"recommend":"none"}`, true, map[string]prior.Weights{"search": {"bm25": 2}, "recommend": {}}},
		{"recommend only", `{"recommend":{"cf":1}}`, true, map[string]prior.Weights{"search": {}, "recommend": {"itemknn": 1, "seqknn": 1}}},
		{"unknown expert", `{"bm26":1}`, false, nil},
		{"negative", `{"bm25":-1}`, false, nil},
		{"bad json", `{"bm25":`, false, nil},
		{"bad word", `all`, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFusion(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for task, w := range tc.want {
				if len(got[task]) != len(w) {
					t.Fatalf("%s: got %v, want %v", task, got[task], w)
				}
				for k, v := range w {
					if got[task][k] != v {
						t.Fatalf("%s.%s = %v, want %v", task, k, got[task][k], v)
					}
				}
			}
		})
	}
}

func TestHoldOutQueries(t *testing.T) {
	ds := &folder.Folder{}
	for i := range 200 {
		kind := []string{"literal", "paraphrase"}[i%2]
		ds.Queries = append(ds.Queries, folder.Query{Query: "q" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Kind: kind, Split: "train"})
	}
	ds.Queries = append(ds.Queries, folder.Query{Query: "t", Kind: "paraphrase", Split: "test"}, folder.Query{Query: "v", Kind: "literal", Split: "valid"})
	if got := kindsMissingFromValid(ds); !slices.Equal(got, []string{"paraphrase"}) {
		t.Fatalf("missing kinds %v, want [paraphrase]", got)
	}
	out := holdOutQueries(ds, []string{"paraphrase"})
	held := 0
	for i, q := range out.Queries {
		if ds.Queries[i].Split != "train" {
			continue
		}
		if q.Split == "valid" {
			held++
			if q.Kind != "paraphrase" {
				t.Fatalf("held out %q of kind %s", q.Query, q.Kind)
			}
		}
	}
	if held < 5 || held > 40 { // about a fifth of 100
		t.Fatalf("held out %d of 100 paraphrases, want about 20", held)
	}
	if ds.Queries[0].Split != "train" || ds.Queries[1].Split != "train" {
		t.Fatal("holdOutQueries changed its input")
	}
}

// demo is the demo data folder and a copy of the committed model (Tune
// writes fusion.json into it); skipped without onnxruntime.
func demo(t *testing.T) (*folder.Folder, string) {
	t.Helper()
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skip("onnxruntime library not found (run scripts/install-onnxruntime.sh): ", err)
	}
	ds, err := folder.Load(filepath.Join("..", "..", "..", "testdata", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "..", "testdata", "model")
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return ds, dst
}

// Add gives neo as served (fusion from fusion.json), the model alone and,
// when asked, rrf after decoding; each answers with distinct catalog ids.
func TestAdd(t *testing.T) {
	ds, model := demo(t)
	ctx := context.Background()
	kit, err := eval.NewKit(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close()
	m := kit.Baselines()
	fusion := map[string]prior.Weights{"search": {"bm25": 64}, "recommend": {"rrf": 4}}
	agg := prior.Max
	nm, used, err := Add(ctx, ds, kit, model, "neo", true, true, &m, Options{Fusion: fusion, RRF: true, Agg: &agg, Beam: 12})
	if err != nil {
		t.Fatal(err)
	}
	defer nm.Close()
	for _, name := range []string{"neo", "neo_model", "neo_rrf"} {
		if m.Search[name] == nil || m.Recommend[name] == nil {
			t.Fatalf("no %s entry: search %v", name, m.Search)
		}
	}
	if len(used) != 2 {
		t.Fatalf("fusion used %v, want both tasks", used)
	}
	// the options reach the engine and the methods
	for _, task := range []string{plugin.TaskSearch, plugin.TaskRecommend} {
		if got := nm.Engine().FusionAgg(task); got != prior.Max {
			t.Fatalf("%s agg %v, want max", task, got)
		}
	}
	neo := m.Search["neo"].(*Method)
	if neo.beam != 12 || nm.beam != 12 || neo.fusion["bm25"] != 64 || len(nm.fusion) != 0 {
		t.Fatalf("neo beam %d fusion %v; model alone beam %d fusion %v", neo.beam, neo.fusion, nm.beam, nm.fusion)
	}
	known := map[string]bool{}
	for _, it := range ds.Items {
		known[it.ID] = true
	}
	q := ds.QueriesOf("test")[0]
	for _, name := range []string{"neo", "neo_model", "neo_rrf"} {
		ids, err := m.Search[name].Search(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 10 {
			t.Fatalf("%s: %d ids, want 10", name, len(ids))
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !known[id] || seen[id] {
				t.Fatalf("%s: id %q unknown or repeated in %v", name, id, ids)
			}
			seen[id] = true
		}
	}
	// fusion changes what neo answers, for some of the test queries
	differ := false
	for _, q := range ds.QueriesOf("test")[:10] {
		a, err := m.Search["neo"].Search(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Search["neo_model"].Search(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		differ = differ || !slices.Equal(a, b)
	}
	if !differ {
		t.Fatal("neo with bm25 64 answers as the model alone on 10 queries")
	}
	hist := []string{ds.Items[0].ID, ds.Items[1].ID}
	ids, err := m.Recommend["neo"].Recommend(ctx, hist, "", 10)
	if err != nil || len(ids) != 10 {
		t.Fatalf("recommend: %v, %v", ids, err)
	}
	for _, id := range ids {
		if slices.Contains(hist, id) {
			t.Fatalf("recommended %s from the history", id)
		}
	}
}

// Tune writes fusion.json with what it reports, and weights only where
// they beat the model alone on the cases it measured.
func TestTune(t *testing.T) {
	ds, model := demo(t)
	rep, err := Tune(context.Background(), ds, model, TuneOptions{K: 10, Limit: 4, Aggs: []prior.Agg{prior.Max}})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := plugin.LoadFusion(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []string{plugin.TaskSearch, plugin.TaskRecommend} {
		info := rep.Tasks[task]
		if info == nil || info.Cases != 4 {
			t.Fatalf("%s: %+v, want 4 cases", task, info)
		}
		// weights only when they beat the model alone on valid
		if info.Weights.Active() != (info.Best > info.Pure) {
			t.Fatalf("%s: weights %v with best %v, model alone %v", task, info.Weights, info.Best, info.Pure)
		}
		if len(fd.Weights[task]) != len(info.Weights) {
			t.Fatalf("%s: fusion.json %v, report %v", task, fd.Weights[task], info.Weights)
		}
		for k, v := range info.Weights {
			if fd.Weights[task][k] != v {
				t.Fatalf("%s.%s: fusion.json %v, report %v", task, k, fd.Weights[task][k], v)
			}
		}
		if info.Weights.Active() && fd.Agg[task] != prior.Max {
			t.Fatalf("%s: agg %v, want max", task, fd.Agg[task])
		}
		if trials := info.ByAgg["max"]; trials == nil || len(trials.Trials) < len(eval.TuneGrid) {
			t.Fatalf("%s: %d trials, want at least a grid's", task, len(trials.Trials))
		}
	}
	raw, err := os.ReadFile(filepath.Join(model, plugin.FusionFile))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil || out["tuning"] == nil {
		t.Fatalf("fusion.json has no tuning report: %v", err)
	}
}

// TestMixed: the mixed block reads answers with and without the guard;
// with it, nothing contradicts the items, and the guard is left on.
func TestMixed(t *testing.T) {
	ds, model := demo(t)
	ctx := context.Background()
	eng, err := OpenEngine(ctx, model, ds.Items)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rep, err := Mixed(ctx, eng, ds, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	g, u := rep.Guarded, rep.Unguarded
	if g.Answers != 30 || u.Answers != 30 || g.Mentions == 0 || u.Mentions == 0 {
		t.Fatalf("guarded %+v unguarded %+v", g, u)
	}
	if g.Contradictions != 0 || g.Rate != 0 {
		t.Fatalf("guarded answers contradict their items: %+v", g)
	}
	if u.Contradictions == 0 || u.Interventions != 0 || g.Interventions == 0 {
		t.Fatalf("unguarded %+v, guarded %+v: the check cannot tell them apart", u, g)
	}
	if g.Ended <= 0 || g.MeanTokens <= 0 {
		t.Fatalf("no lengths: %+v", g)
	}
}

// TestAsks: the ask steers: more of the items named match the brand or
// colour asked for than without the ask.
func TestAsks(t *testing.T) {
	ds, model := demo(t)
	ctx := context.Background()
	eng, err := OpenEngine(ctx, model, ds.Items)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.SetFusion(map[string]prior.Weights{"search": {"bm25": 512}, "recommend": {"itemknn": 0.5}})
	kit, err := eval.NewKit(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close()
	eng.SetExperts(kit.Experts())
	rep, err := Asks(ctx, eng, ds, 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	for _, x := range []struct{ with, without eval.AskStats }{{rep.MixedWithAsk, rep.MixedWithout}, {rep.RecommendWithAsk, rep.RecommendWithout}} {
		if x.with.Items == 0 || x.with.Share <= x.without.Share || x.with.Share < 0.5 {
			t.Fatalf("the ask does not steer: with %+v, without %+v", x.with, x.without)
		}
	}
}

// TestRunDirNoModel: --model none reports the baselines alone, even where
// the data folder has a model.
func TestRunDirNoModel(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "demo")
	rep, err := RunDir(context.Background(), dir, "none", "", eval.Options{K: 10, Limit: 20}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recommend) == 0 || rep.Recommend["contentknn"] == nil {
		t.Fatalf("no baselines: %v", rep.Recommend)
	}
	for _, b := range []map[string]eval.Metrics{rep.Search, rep.Recommend} {
		for name := range b {
			if strings.HasPrefix(name, "neo") {
				t.Fatalf("model none still ran %s", name)
			}
		}
	}
}
