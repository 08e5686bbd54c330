package sid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// segString renders segments for comparison: specials and SIDs in brackets.
func segString(segs []Segment) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s.Special != "":
			b.WriteString(s.Special)
		case s.SID != nil:
			b.WriteString(s.SID.String())
		default:
			b.WriteString(s.Text)
		}
	}
	return b.String()
}

func TestPromptRenderers(t *testing.T) {
	h := []SID{{Type: "ring", Codes: []int{1, 2}}, {Type: "ring", Codes: []int{3, 0}}}
	vals := map[string][]Segment{"query": {{Text: "red {scarf}"}}, "type": {{Text: "rings"}}, "history": Spans(h)}
	cases := []struct {
		name string
		run  func() ([]Segment, error)
		want string // "" = an error
	}{
		{"search", func() ([]Segment, error) { return Prompt("Find {type}: {query}", FormatIDs, vals) },
			"<|bos|><|user|>Find rings: red {scarf}<|fmt:ids|><|assistant|>"},
		{"history", func() ([]Segment, error) { return Prompt("After {history}.", FormatMixed, vals) },
			"<|bos|><|user|>After [SID:ring-1-2][SID:ring-3-0].<|fmt:mixed|><|assistant|>"},
		{"raw keeps braces", func() ([]Segment, error) { return RawPrompt("say {query}", FormatText) },
			"<|bos|><|user|>say {query}<|fmt:text|><|assistant|>"},
		{"sequence is open-ended", func() ([]Segment, error) { return SequencePrompt("Items: {history}", h) },
			"<|bos|><|user|>Items: [SID:ring-1-2][SID:ring-3-0]"},
		{"unknown format", func() ([]Segment, error) { return Prompt("x", "json", nil) }, ""},
		{"missing value", func() ([]Segment, error) { return Prompt("{context}", FormatIDs, vals) }, ""},
		{"sequence with another placeholder", func() ([]Segment, error) { return SequencePrompt("{query} {history}", h) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			segs, err := c.run()
			if c.want == "" {
				if err == nil {
					t.Fatalf("no error; got %q", segString(segs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := segString(segs); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestLoadModel: neo.json and tokenizer.json load together; a pair that
// disagrees, or a neo.json that Validate refuses, is refused.
func TestLoadModel(t *testing.T) {
	tok, dir := trainTestTokenizer(t, 400)
	m := testMeta(t, tok)
	write := func(m *ModelMeta) {
		t.Helper()
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, MetaFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(m)
	if _, _, err := LoadModel(dir); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*ModelMeta){
		"prompt version":      func(m *ModelMeta) { m.PromptVersion = PromptVersion + 1 },
		"special id":          func(m *ModelMeta) { m.Special[TokenEOS]++ },
		"missing task":        func(m *ModelMeta) { delete(m.Templates, TaskExplain) },
		"negative history":    func(m *ModelMeta) { m.PromptHistory = -1 },
		"short max_seq":       func(m *ModelMeta) { m.MaxSeq = MinMaxSeq - 1 },
		"sid levels":          func(m *ModelMeta) { m.SIDLevels++ },
		"context in template": func(m *ModelMeta) { m.Templates[TaskMixed] = []string{"{history} {context}"} },
	} {
		t.Run(name, func(t *testing.T) {
			bad := testMeta(t, tok)
			change(bad)
			write(bad)
			if _, _, err := LoadModel(dir); err == nil {
				t.Error("accepted")
			}
		})
	}
}
