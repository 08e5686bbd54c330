package plugin

import (
	"slices"
	"testing"

	"github.com/neo-search/neo/sid"
)

// byteCodec encodes text as one token per byte (ids 10..265).
type byteCodec struct{}

func (byteCodec) Encode(text string) ([]int32, error) {
	out := make([]int32, len(text))
	for i := range len(text) {
		out[i] = 10 + int32(text[i])
	}
	return out, nil
}
func (byteCodec) Decode([]int32) string { return "" }

func promptEngine(t *testing.T, maxSeq int, sequence bool) *Engine {
	t.Helper()
	v, err := sid.NewVocab(300, []string{"movie"}, []int{4, 4, 4, 2})
	if err != nil {
		t.Fatal(err)
	}
	special := map[string]int32{sid.TokenPad: 0, sid.TokenUnk: 1}
	for i, s := range sid.SpecialTokens {
		special[s] = 2 + int32(i)
	}
	tpls := map[string][]string{
		TaskSearch:    {"Find {type} for the search query: {query}"},
		TaskRecommend: {"The user interacted with {history}. Recommend {type} they will like next."},
	}
	if sequence {
		tpls[sid.TaskRecommendSequence] = []string{"The user's items, oldest first: {history}"}
	}
	e := &Engine{meta: &sid.ModelMeta{SID: v, Special: special, Templates: tpls, MaxSeq: maxSeq}, tok: byteCodec{}}
	e.cfg.defaults()
	return e
}

func spans(n int) []sid.SID {
	out := make([]sid.SID, n)
	for i := range out {
		out[i] = sid.SID{Type: "movie", Codes: []int{i % 4, (i / 4) % 4, 0, 0}}
	}
	return out
}

func countTok(ids []int32, tok int32) int {
	n := 0
	for _, id := range ids {
		if id == tok {
			n++
		}
	}
	return n
}

// TestPromptRecommendSequence: a model trained on the sequence format gets
// the history as the prompt's last part (no format token, no
// <|assistant|>); other tasks and models keep the instruction layout.
func TestPromptRecommendSequence(t *testing.T) {
	asst := int32(2 + slices.Index(sid.SpecialTokens, sid.TokenAssistant))
	seq := promptEngine(t, 512, true)
	ids, err := seq.buildPrompt(&Request{Task: TaskRecommend, Format: FormatIDs}, spans(3))
	if err != nil {
		t.Fatal(err)
	}
	if ids[len(ids)-1] != seq.meta.SID.Close || countTok(ids, asst) != 0 || countTok(ids, seq.meta.SID.Open) != 3 {
		t.Fatalf("sequence prompt %v: want 3 spans at the end, no <|assistant|>", ids)
	}
	for name, tc := range map[string]struct {
		e   *Engine
		req Request
	}{
		"search":                 {seq, Request{Task: TaskSearch, Query: "x", Format: FormatIDs}},
		"recommend with context": {seq, Request{Task: TaskRecommend, Format: FormatIDs, Context: "a comedy"}},
		"recommend text":         {seq, Request{Task: TaskRecommend, Format: FormatText}},
		"instruction model":      {promptEngine(t, 512, false), Request{Task: TaskRecommend, Format: FormatIDs}},
	} {
		ids, err := tc.e.buildPrompt(&tc.req, spans(3))
		if err != nil {
			t.Fatal(name, err)
		}
		if ids[len(ids)-1] != asst {
			t.Errorf("%s: prompt does not end with <|assistant|>", name)
		}
	}
}

// TestPromptHistoryFits: long histories lose their oldest items until the
// prompt and the decoded SID fit max_seq. An instruction prompt keeps the
// training cap (Config.PromptHistory, else neo.json prompt_history); a
// sequence prompt is bounded by max_seq alone, as in training.
func TestPromptHistoryFits(t *testing.T) {
	for _, sequence := range []bool{true, false} {
		e := promptEngine(t, 160, sequence)
		h := spans(60)
		ids, err := e.buildPrompt(&Request{Task: TaskRecommend, Format: FormatIDs}, h)
		if err != nil {
			t.Fatal(err)
		}
		levels := e.meta.SID.Levels()
		if len(ids)+levels+1 > 160 || len(ids)+levels+1+7 <= 160 {
			t.Fatalf("sequence %v: prompt of %d tokens does not fill max_seq 160 minus the answer", sequence, len(ids))
		}
		want, _ := e.meta.SID.Encode(sid.Spans(h[len(h)-1:]), byteCodec{}.Encode, e.meta.Special)
		if n := countTok(ids, e.meta.SID.Open); n < 2 || !containsRun(ids, want) {
			t.Fatalf("sequence %v: %d spans; the newest item must stay", sequence, n)
		}
		full := countTok(ids, e.meta.SID.Open)
		for _, c := range []struct{ cfg, meta int }{{2, 0}, {0, 3}, {2, 3}} {
			e.cfg.PromptHistory, e.meta.PromptHistory = c.cfg, c.meta
			ids, err = e.buildPrompt(&Request{Task: TaskRecommend, Format: FormatIDs}, h)
			if err != nil {
				t.Fatal(err)
			}
			want := c.meta
			if c.cfg > 0 {
				want = c.cfg
			}
			if sequence {
				want = full
			}
			if n := countTok(ids, e.meta.SID.Open); n != want {
				t.Fatalf("sequence %v, Config.PromptHistory %d, prompt_history %d: %d spans, want %d", sequence, c.cfg, c.meta, n, want)
			}
		}
	}
	e := promptEngine(t, 40, false)
	if _, err := e.buildPrompt(&Request{Task: TaskSearch, Format: FormatIDs, Query: string(make([]byte, 100))}, nil); err == nil {
		t.Fatal("a query longer than max_seq: want an error")
	}
}

func containsRun(a, run []int32) bool {
	for i := 0; i+len(run) <= len(a); i++ {
		if slices.Equal(a[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
