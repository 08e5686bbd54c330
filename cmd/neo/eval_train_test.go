package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo-search/neo/exporter/trainer"
	"github.com/neo-search/neo/index/assign"
	"github.com/neo-search/neo/onnx"
	"github.com/neo-search/neo/plugin/eval/trainrun"
)

// writeTinyData writes a synthetic data folder: 24 items of two types
// (text, or ids and types only), 12 users with 7 events each (train, then
// valid, then test) and labelled train/test queries; interactions and
// queries only when asked.
func writeTinyData(t *testing.T, text, interactions, queries bool) string {
	t.Helper()
	dir := t.TempDir()
	colours := []string{"gold", "silver", "black", "rose"}
	var items []string
	for i := 0; i < 24; i++ {
		typ := []string{"ring", "watch"}[i%2]
		if text {
			items = append(items, fmt.Sprintf(`{"id":"i%d","type":"%s","title":"%s %s %d","description":"a %s %s for everyday wear","in_stock":true}`,
				i, typ, colours[i%4], typ, i, colours[i%4], typ))
		} else {
			items = append(items, fmt.Sprintf(`{"id":"i%d","type":"%s"}`, i, typ))
		}
	}
	write := func(name string, lines []string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("items.ndjson", items)
	if interactions {
		var ev []string
		for u := 0; u < 12; u++ {
			for j := 0; j < 7; j++ {
				split := "train"
				if j == 5 {
					split = "valid"
				} else if j == 6 {
					split = "test"
				}
				ev = append(ev, fmt.Sprintf(`{"user":"u%d","item":"i%d","ts":%d,"event":"view","split":"%s"}`, u, (u+3*j)%24, 100+j, split))
			}
		}
		write("interactions.ndjson", ev)
	}
	if queries {
		var qs []string
		for c, col := range colours {
			rel := []string{}
			for i := c; i < 24; i += 4 {
				rel = append(rel, fmt.Sprintf(`{"item":"i%d","grade":2}`, i))
			}
			qs = append(qs, fmt.Sprintf(`{"query":"%s things","relevant":[%s]}`, col, strings.Join(rel, ",")))
			qs = append(qs, fmt.Sprintf(`{"query":"%s pieces","relevant":[%s],"split":"test"}`, col, strings.Join(rel, ",")))
			qs = append(qs, fmt.Sprintf(`{"query":"%s things","relevant":[%s],"split":"test"}`, col, rel[0]))
		}
		write("queries.ndjson", qs)
	}
	return dir
}

// needTrainer skips when the pipeline cannot run here: no torch, or no
// onnxruntime library to serve the trained models.
func needTrainer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: trains models")
	}
	if err := exec.Command(trainer.Python, "-c", "import torch, onnx").Run(); err != nil {
		t.Skipf("%s with torch and onnx not available: %v", trainer.Python, err)
	}
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skipf("onnxruntime library not found: %v", err)
	}
}

type trainEvalOut struct {
	Search       map[string]map[string]float64 `json:"search"`
	SearchSeen   map[string]map[string]float64 `json:"search_seen"`
	SearchUnseen map[string]map[string]float64 `json:"search_unseen"`
	Recommend    map[string]map[string]float64 `json:"recommend"`
	InvalidSIDs  int                           `json:"invalid_sids"`
	Errors       int                           `json:"errors"`
	Skipped      []string                      `json:"skipped"`
	ErrorMsgs    []string                      `json:"error_messages"`
	Train        struct {
		Sequence   bool    `json:"sequence_samples"`
		Dropout    float64 `json:"dropout"`
		CoocWeight float64 `json:"cooc_weight"`
		TrainSeed  int     `json:"train_seed"`
		SIDs       struct {
			Levels int `json:"levels"`
		} `json:"sids"`
		Arms    []*trainrun.ArmInfo `json:"arms"`
		Skipped []string            `json:"skipped"`
	} `json:"train"`
}

// runTrainEval runs `neo eval --data DIR --train --json` with the tiny
// preset and a few steps, and decodes what it prints.
func runTrainEval(t *testing.T, data string, extra ...string) trainEvalOut {
	t.Helper()
	args := append([]string{"--data", data, "--train", "--json", "--quiet", "--preset", "tiny", "--vocab", "300",
		"--steps-multi", "2,1,3", "--steps-search", "2,1,2", "--steps-recommend", "2,1,2", "--max-seq", "160"}, extra...)
	raw, code := captureStdout(t, func() int { return runEval(args) })
	if code != 0 {
		t.Fatalf("neo eval --train exit %d; stdout %s", code, raw)
	}
	var rep trainEvalOut
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if rep.InvalidSIDs != 0 || rep.Errors != 0 {
		t.Fatalf("invalid_sids %d errors %d %v", rep.InvalidSIDs, rep.Errors, rep.ErrorMsgs)
	}
	return rep
}

func hasSkip(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestEvalTrainNoQueries(t *testing.T) {
	needTrainer(t)
	// --dropout, --cooc-weight, --levels and --train-seed ride along: each
	// must reach the SIDs or the trainer, and be recorded.
	work := t.TempDir()
	rep := runTrainEval(t, writeTinyData(t, true, true, false), "--dropout", "0.2", "--cooc-weight", "0.9", "--levels", "2", "--train-seed", "7", "--work", work)
	if rep.Train.Dropout != 0.2 || len(rep.Train.Arms) == 0 || rep.Train.Arms[0].Dropout != 0.2 {
		t.Fatalf("dropout: report %g, arms %v", rep.Train.Dropout, rep.Train.Arms)
	}
	var q struct {
		CoocWeight float64 `json:"cooc_weight"`
		Levels     int     `json:"levels"`
	}
	readJSONFile(t, assign.QuantizerPath(filepath.Join(work, trainrun.IndexDir)), &q)
	var meta struct {
		Training struct {
			Seed int `json:"seed"`
		} `json:"training"`
	}
	readJSONFile(t, filepath.Join(work, "multi", "model", "neo.json"), &meta)
	if rep.Train.TrainSeed != 7 || meta.Training.Seed != 7 {
		t.Fatalf("train seed: report %d, trainer %d, want 7", rep.Train.TrainSeed, meta.Training.Seed)
	}
	if rep.Train.CoocWeight != 0.9 || q.CoocWeight != 0.9 {
		t.Fatalf("cooc_weight: report %g, quantizer %g, want 0.9", rep.Train.CoocWeight, q.CoocWeight)
	}
	if rep.Train.SIDs.Levels != 2 || q.Levels != 2 {
		t.Fatalf("levels: report %d, quantizer %d, want 2", rep.Train.SIDs.Levels, q.Levels)
	}
	if rep.Search != nil {
		t.Fatalf("search block without queries: %v", rep.Search)
	}
	if !hasSkip(rep.Skipped, "search") || !hasSkip(rep.Train.Skipped, "no queries.ndjson") || !hasSkip(rep.Train.Skipped, "recommend arm") {
		t.Fatalf("skips not said: %q / %q", rep.Skipped, rep.Train.Skipped)
	}
	if _, ok := rep.Recommend["neo"]; !ok || len(rep.Train.Arms) != 1 || !rep.Train.Sequence {
		t.Fatalf("recommend block %v, arms %d, sequence %v", rep.Recommend, len(rep.Train.Arms), rep.Train.Sequence)
	}
	if rep.Recommend["neo"]["n"] != 12 || rep.Recommend["neo"]["short_lists"] != 0 {
		t.Fatalf("neo recommend: %v", rep.Recommend["neo"])
	}
	if _, ok := rep.Recommend["neo"]["hr@10_se"]; !ok {
		t.Fatalf("no hr@10_se: %v", rep.Recommend["neo"])
	}
}

// TestEvalTrainBadFlags: values out of range are refused, naming the
// flag, before anything is imported or trained.
func TestEvalTrainBadFlags(t *testing.T) {
	data := writeTinyData(t, true, true, false)
	for _, tc := range []struct{ flag, value string }{
		{"--dropout", "1"}, {"--dropout", "-0.1"}, {"--dropout", "1.5"},
		{"--cooc-weight", "0"}, {"--cooc-weight", "1"}, {"--cooc-weight", "-2"},
		{"--levels", "0"}, {"--levels", "1000"},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			work := t.TempDir()
			out, code := captureStderr(t, func() int {
				return runEval([]string{"--data", data, "--train", "--json", "--quiet", tc.flag, tc.value, "--work", work})
			})
			if code == 0 || !strings.Contains(out, tc.flag) {
				t.Fatalf("exit %d, stderr %q", code, out)
			}
			if _, err := os.Stat(filepath.Join(work, trainrun.IndexDir)); err == nil {
				t.Fatal("imported before refusing the flag")
			}
		})
	}
}

func TestEvalTrainNoInteractions(t *testing.T) {
	needTrainer(t)
	rep := runTrainEval(t, writeTinyData(t, true, false, true))
	if rep.Recommend != nil {
		t.Fatalf("recommend block without interactions: %v", rep.Recommend)
	}
	if !hasSkip(rep.Skipped, "recommend") || !hasSkip(rep.Train.Skipped, "no interactions.ndjson") {
		t.Fatalf("skips not said: %q / %q", rep.Skipped, rep.Train.Skipped)
	}
	if _, ok := rep.Search["neo"]; !ok || rep.Train.Sequence {
		t.Fatalf("search block %v, sequence %v", rep.Search, rep.Train.Sequence)
	}
	if _, ok := rep.SearchSeen["neo"]; !ok {
		t.Fatalf("no search_seen for neo: %v", rep.SearchSeen)
	}
	if _, ok := rep.SearchUnseen["neo"]; !ok {
		t.Fatalf("no search_unseen for neo: %v", rep.SearchUnseen)
	}
}

// TestEvalTrainIDsOnly: a catalog of ids and types without any text, all
// three arms, each in its own blocks.
func TestEvalTrainIDsOnly(t *testing.T) {
	needTrainer(t)
	rep := runTrainEval(t, writeTinyData(t, false, true, true))
	for _, m := range []string{"neo", "neo_search_only"} {
		if _, ok := rep.Search[m]; !ok {
			t.Errorf("search block lacks %s: %v", m, rep.Search)
		}
	}
	for _, m := range []string{"neo", "neo_recommend_only"} {
		if _, ok := rep.Recommend[m]; !ok {
			t.Errorf("recommend block lacks %s: %v", m, rep.Recommend)
		}
	}
	if _, ok := rep.Search["neo_recommend_only"]; ok {
		t.Error("recommend-only arm measured on search")
	}
	if _, ok := rep.Recommend["neo_search_only"]; ok {
		t.Error("search-only arm measured on recommend")
	}
	if len(rep.Train.Arms) != 3 {
		t.Fatalf("%d arms trained, want 3", len(rep.Train.Arms))
	}
	for _, a := range rep.Train.Arms {
		if a.Steps["instruct"] == 0 || a.SecondsPerStep["instruct"] <= 0 || a.TokensDecoded == 0 {
			t.Errorf("arm %s: steps %v, s/step %v, tokens decoded %d", a.Arm, a.Steps, a.SecondsPerStep, a.TokensDecoded)
		}
	}
}

// TestEvalTrainColdTestItems: an unsplit log (leave-last-out applied) whose
// last items have no text and occur nowhere else, so they have no text, no
// embedding and no training interaction. The run goes to the end and every
// catalog item has an SID in the trained model's sids.tsv.
func TestEvalTrainColdTestItems(t *testing.T) {
	needTrainer(t)
	dir := t.TempDir()
	var items, ev []string
	for i := 0; i < 20; i++ {
		items = append(items, fmt.Sprintf(`{"id":"i%d","type":"ring","title":"gold ring %d","description":"a gold ring"}`, i, i))
	}
	for u := 0; u < 10; u++ {
		for j := 0; j < 5; j++ {
			ev = append(ev, fmt.Sprintf(`{"user":"u%d","item":"i%d","ts":%d,"event":"view"}`, u, (u+3*j)%20, 100+j))
		}
		if u < 3 { // the cold items: no text, only as a test target
			items = append(items, fmt.Sprintf(`{"id":"cold%d","type":"ring"}`, u))
			ev = append(ev, fmt.Sprintf(`{"user":"u%d","item":"cold%d","ts":200,"event":"view"}`, u, u))
		}
	}
	for name, lines := range map[string][]string{"items.ndjson": items, "interactions.ndjson": ev} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	rep := runTrainEval(t, dir, "--arms", "multi", "--work", work)
	if _, ok := rep.Recommend["neo"]; !ok {
		t.Fatalf("no recommend block for neo: %v", rep.Recommend)
	}
	raw, err := os.ReadFile(filepath.Join(work, "multi", "model", "sids.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if id, sid, ok := strings.Cut(line, "\t"); ok && sid != "" {
			have[id] = true
		}
	}
	for _, it := range items {
		var v struct{ ID string }
		if err := json.Unmarshal([]byte(it), &v); err != nil {
			t.Fatal(err)
		}
		if !have[v.ID] {
			t.Errorf("item %s has no SID in sids.tsv (%d rows)", v.ID, len(have))
		}
	}
}

func TestEvalTrainColdStart(t *testing.T) {
	needTrainer(t)
	work := t.TempDir()
	data := writeTinyData(t, true, true, true)
	args := []string{"--data", data, "--train", "--json", "--quiet", "--preset", "tiny", "--vocab", "300",
		"--steps-multi", "2,1,3", "--max-seq", "160", "--arms", "multi", "--cold", "0.3", "--work", work}
	raw, code := captureStdout(t, func() int { return runEval(args) })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, raw)
	}
	var rep struct {
		InvalidSIDs int `json:"invalid_sids"`
		Errors      int `json:"errors"`
		Cold        struct {
			NewItems      int                           `json:"new_items"`
			SearchNew     map[string]map[string]float64 `json:"search_new"`
			SearchRest    map[string]map[string]float64 `json:"search_rest"`
			RecommendNew  map[string]map[string]float64 `json:"recommend_new"`
			RecommendRest map[string]map[string]float64 `json:"recommend_rest"`
		} `json:"cold"`
		Recommend map[string]map[string]float64 `json:"recommend"`
		Train     struct {
			NewItems   int `json:"new_items"`
			NewCoded   int `json:"new_coded"`
			NewUncoded int `json:"new_uncoded"`
		} `json:"train"`
	}
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Cold
	if rep.InvalidSIDs != 0 || rep.Errors != 0 || c.NewItems == 0 || c.NewItems != rep.Train.NewItems ||
		rep.Train.NewCoded+rep.Train.NewUncoded != c.NewItems || rep.Train.NewCoded == 0 {
		t.Fatalf("report: %s", raw)
	}
	for _, m := range []string{"neo", "contentknn", "itemknn"} {
		nw, rest, all := c.RecommendNew[m], c.RecommendRest[m], rep.Recommend[m]
		if nw == nil || rest == nil || nw["n"]+rest["n"] != all["n"] {
			t.Fatalf("%s: new %v + rest %v != all %v", m, nw, rest, all)
		}
	}
	if c.SearchNew["bm25"]["n"]+c.SearchRest["bm25"]["n"] == 0 {
		t.Fatalf("no search cases: %v %v", c.SearchNew, c.SearchRest)
	}
	// the model was trained without the new items, and the catalog it was
	// trained on lacks them
	raw2, err := os.ReadFile(filepath.Join(work, "multi", "model", "sids.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(raw2)), "\n") + 1; n != 24-c.NewItems {
		t.Fatalf("sids.tsv has %d rows, want %d (24 items, %d new)", n, 24-c.NewItems, c.NewItems)
	}
}

// TestEvalNewItems: --new-items splits the cases of the listed items from
// the rest, for a model trained before they came (neo train --from).
func TestEvalNewItems(t *testing.T) {
	f := filepath.Join(t.TempDir(), "new.txt")
	if err := os.WriteFile(f, []byte("sku-00001 sku-00002\nsku-00003\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, code := captureStdout(t, func() int {
		return runEval([]string{"--dataset", "demo", "--methods", "bm25,itemknn", "--new-items", f, "--json", "--quiet", "--mixed", "0"})
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, raw)
	}
	var rep struct {
		Recommend map[string]map[string]float64 `json:"recommend"`
		Cold      struct {
			NewItems      int                           `json:"new_items"`
			RecommendNew  map[string]map[string]float64 `json:"recommend_new"`
			RecommendRest map[string]map[string]float64 `json:"recommend_rest"`
		} `json:"cold"`
	}
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatal(err)
	}
	n, rest, all := rep.Cold.RecommendNew["itemknn"]["n"], rep.Cold.RecommendRest["itemknn"]["n"], rep.Recommend["itemknn"]["n"]
	if rep.Cold.NewItems != 3 || n+rest != all || all == 0 {
		t.Fatalf("new items %d, new %v + rest %v != %v", rep.Cold.NewItems, n, rest, all)
	}
}
