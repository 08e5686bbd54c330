package exporter

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/sid"
)

// fixture is a small jewellery catalog: two types with several items, one
// type with a single item, Unicode text, users with train/valid/test
// events and train/test queries. "heldout-1" appears only in valid/test
// events, and the test query only in queries with split test.
func fixture() Input {
	styles := []string{"understated", "bold"}
	colours := []string{"rose gold", "silver", "yellow gold"}
	brands := []string{"Maison Aurel", "Lumière & Co"}
	var in Input
	add := func(id, typ, title string, codes []int, attrs map[string]string, brand string, price float64) {
		s := sid.SID{Type: typ, Codes: codes}
		in.Items = append(in.Items, index.Item{ID: id, Type: typ, Title: title,
			Description: "A " + title + " crafted by hand. Prix: " + fmt.Sprint(price) + " €.",
			Brand:       brand, Attributes: attrs, Price: price, InStock: true, SID: s.Key()})
	}
	for i := 0; i < 8; i++ {
		add(fmt.Sprintf("br-%d", i), "bracelet", fmt.Sprintf("%s bracelet n°%d ✨", strings.Title(colours[i%3]), i),
			[]int{i % 3, i % 2, 0, i / 6},
			map[string]string{"style": styles[i%2], "color": colours[i%3], "material": "gold vermeil", "collection": "Aurora"},
			brands[i%2], float64(50+20*i))
	}
	for i := 0; i < 6; i++ {
		add(fmt.Sprintf("ri-%d", i), "ring", fmt.Sprintf("Lumière ring %d", i), []int{i % 2, i % 3, i, 1},
			map[string]string{"style": styles[i%2], "color": colours[i%3], "material": "sterling silver", "collection": "Étoile"},
			brands[i%2], float64(80+30*i))
	}
	add("hb-0", "handbag", "Quilted leather handbag 👜", []int{0, 0, 0, 0},
		map[string]string{"style": "bold", "color": "black", "material": "leather"}, "Maison Aurel", 420)
	add("heldout-1", "ring", "Held-out sapphire ring", []int{3, 3, 3, 0},
		map[string]string{"style": "bold", "color": "blue", "material": "platinum"}, "Zaphir", 999)

	ids := []string{"br-0", "br-1", "ri-0", "br-2", "ri-1", "br-3", "hb-0", "ri-2", "br-4", "br-5", "ri-3"}
	for u := 0; u < 6; u++ {
		n := 3 + u
		for j := 0; j < n; j++ {
			in.Interactions = append(in.Interactions, folder.Interaction{User: fmt.Sprintf("u%d", u),
				Item: ids[(u+j)%len(ids)], TS: int64(1000 + 10*j), Event: "view", Split: "train"})
		}
		in.Interactions = append(in.Interactions,
			folder.Interaction{User: fmt.Sprintf("u%d", u), Item: "heldout-1", TS: 5000, Event: "view", Split: "valid"},
			folder.Interaction{User: fmt.Sprintf("u%d", u), Item: "heldout-1", TS: 6000, Event: "purchase", Split: "test"})
	}
	in.Interactions = append(in.Interactions, folder.Interaction{User: "u0", Item: "no-such-item", TS: 1, Event: "view"})
	in.Queries = []folder.Query{
		{Query: "rose gold bracelet", Type: "bracelet", Relevant: []folder.Relevance{{Item: "br-0", Grade: 2}, {Item: "br-3", Grade: 2}, {Item: "br-6", Grade: 1}}},
		{Query: "Lumière rings", Relevant: []folder.Relevance{{Item: "ri-0", Grade: 2}, {Item: "ri-1", Grade: 1}, {Item: "ghost", Grade: 2}}},
		{Query: "leather bag", Type: "handbag", Relevant: []folder.Relevance{{Item: "hb-0", Grade: 2}}},
		{Query: "zebra-striped unicorn sapphire", Relevant: []folder.Relevance{{Item: "heldout-1", Grade: 2}}, Split: "test"},
	}
	return in
}

type shards struct {
	ids     []int32
	mask    []uint8
	offsets []int64
}

func (s shards) n() int { return len(s.offsets) - 1 }
func (s shards) seq(i int) ([]int32, []uint8) {
	a, b := s.offsets[i], s.offsets[i+1]
	return s.ids[a:b], s.mask[a:b]
}

func readShards(t *testing.T, dir, stage string) shards {
	t.Helper()
	read := func(ext string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "shards", stage+ext))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var s shards
	raw := read(".ids.bin")
	if len(raw)%4 != 0 {
		t.Fatalf("%s ids: %d bytes", stage, len(raw))
	}
	for i := 0; i < len(raw); i += 4 {
		s.ids = append(s.ids, int32(binary.LittleEndian.Uint32(raw[i:])))
	}
	s.mask = read(".mask.bin")
	raw = read(".offsets.bin")
	for i := 0; i < len(raw); i += 8 {
		s.offsets = append(s.offsets, int64(binary.LittleEndian.Uint64(raw[i:])))
	}
	return s
}

func export(t *testing.T, in Input, opt Options) (*Manifest, string) {
	t.Helper()
	if opt.OutDir == "" {
		opt.OutDir = t.TempDir()
	}
	if opt.VocabSize == 0 {
		opt.VocabSize = 500
	}
	m, err := Export(context.Background(), in, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m, opt.OutDir
}

func TestExportFormat(t *testing.T) {
	m, dir := export(t, fixture(), Options{Seed: 1, MaxSeq: 128})
	meta, err := sid.LoadModelMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sid.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.CheckTokenizer(tok); err != nil {
		t.Fatal(err)
	}
	if meta.SIDLevels != 3 || meta.SID.Levels() != 4 || !slices.Equal(meta.SID.Types, []string{"bracelet", "handbag", "ring"}) {
		t.Errorf("sid vocab %+v, levels %d", meta.SID, meta.SIDLevels)
	}
	if meta.Special[sid.TokenPad] != 0 || meta.Special[sid.TokenUnk] != 1 || meta.Special[sid.TokenBOS] != int32(tok.BPESize()) ||
		meta.SID.Open != int32(tok.BPESize()+len(sid.SpecialTokens)) {
		t.Errorf("token layout: special %v, sid open %d, bpe %d", meta.Special, meta.SID.Open, tok.BPESize())
	}
	var man Manifest
	raw, _ := os.ReadFile(filepath.Join(dir, "shards", "manifest.json"))
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	if man.InputHash != m.InputHash || !strings.HasPrefix(man.InputHash, "sha256:") || len(man.InputHash) != 71 || man.VocabSize != meta.VocabSize || man.MaxSeq != 128 {
		t.Errorf("manifest %+v", man)
	}
	for _, stage := range Stages {
		t.Run(stage, func(t *testing.T) {
			s := readShards(t, dir, stage)
			st := man.Stages[stage]
			if int64(s.n()) != st.Sequences || int64(len(s.ids)) != st.Tokens || len(s.mask) != len(s.ids) {
				t.Fatalf("counts: %d seqs, %d ids, %d mask; manifest %+v", s.n(), len(s.ids), len(s.mask), st)
			}
			if st.Sequences == 0 {
				t.Fatal("empty stage")
			}
			if s.offsets[0] != 0 || s.offsets[s.n()] != int64(len(s.ids)) {
				t.Fatalf("offsets %v..%v", s.offsets[0], s.offsets[s.n()])
			}
			var loss int64
			for i := 0; i < s.n(); i++ {
				ids, mask := s.seq(i)
				if len(ids) == 0 || len(ids) > 128 {
					t.Fatalf("sequence %d has %d tokens", i, len(ids))
				}
				if ids[0] != meta.Special[sid.TokenBOS] || mask[0] != 0 {
					t.Fatalf("sequence %d does not start with an unmasked <|bos|>", i)
				}
				for j, id := range ids {
					if id < 0 || int(id) >= meta.VocabSize || id == 0 {
						t.Fatalf("sequence %d token %d = %d", i, j, id)
					}
					if mask[j] > 1 {
						t.Fatalf("mask value %d", mask[j])
					}
					loss += int64(mask[j])
				}
			}
			if loss != st.LossTokens {
				t.Errorf("loss tokens %d, manifest %d", loss, st.LossTokens)
			}
		})
	}
}

// TestExportLayout checks the sequence layout and loss masks of every
// instruct and valid sequence.
func TestExportLayout(t *testing.T) {
	_, dir := export(t, fixture(), Options{Seed: 2})
	meta, _ := sid.LoadModelMeta(dir)
	tok, _ := sid.LoadTokenizer(dir)
	sp := meta.Special
	for _, stage := range []string{StageInstruct, StageValid} {
		s := readShards(t, dir, stage)
		formats := map[int32]int{}
		for i := 0; i < s.n(); i++ {
			ids, mask := s.seq(i)
			text := tok.Decode(ids)
			if ids[1] != sp[sid.TokenUser] || ids[len(ids)-1] != sp[sid.TokenEOS] {
				t.Fatalf("%s %d: %q", stage, i, text)
			}
			a := slices.Index(ids, sp[sid.TokenAssistant])
			if a < 3 || ids[a-1] < sp[sid.FormatToken(sid.FormatIDs)] || ids[a-1] > sp[sid.FormatToken(sid.FormatMixed)] {
				t.Fatalf("%s %d: no <|fmt:F|><|assistant|>: %q", stage, i, text)
			}
			formats[ids[a-1]]++
			for j := range ids {
				want := uint8(0)
				if j > a {
					switch {
					case stage == StageInstruct:
						want = 1
					case meta.SID.IsSIDToken(ids[j]):
						want = 1
					}
				}
				if mask[j] != want {
					t.Fatalf("%s %d: mask[%d] = %d, want %d in %q", stage, i, j, mask[j], want, text)
				}
			}
			// The completion of ids-format sequences is nothing but SID spans.
			if ids[a-1] == sp[sid.FormatToken(sid.FormatIDs)] {
				comp := ids[a+1 : len(ids)-1]
				if len(comp) == 0 || len(comp)%(meta.SID.Levels()+3) != 0 {
					t.Fatalf("%s %d: ids completion %q", stage, i, tok.Decode(comp))
				}
				for _, id := range comp {
					if !meta.SID.IsSIDToken(id) {
						t.Fatalf("%s %d: text in an ids completion: %q", stage, i, tok.Decode(comp))
					}
				}
			}
		}
		if stage == StageInstruct && len(formats) != 3 {
			t.Errorf("instruct formats %v, want ids, text and mixed", formats)
		}
	}
}

func TestExportNoLeak(t *testing.T) {
	in := fixture()
	_, dir := export(t, in, Options{Seed: 1})
	meta, _ := sid.LoadModelMeta(dir)
	tok, _ := sid.LoadTokenizer(dir)
	held, _ := sid.Parse("ring-3-3-3-0")
	span, _ := meta.SID.Tokens(held)
	s := readShards(t, dir, StageInstruct)
	for i := 0; i < s.n(); i++ {
		ids, _ := s.seq(i)
		text := tok.Decode(ids)
		if strings.Contains(text, "zebra") || strings.Contains(text, "unicorn") {
			t.Fatalf("held-out query in instruct: %q", text)
		}
		for j := 0; j+len(span) <= len(ids); j++ {
			if slices.Equal(ids[j:j+len(span)], span) {
				t.Fatalf("item seen only in valid/test events appears in instruct: %q", text)
			}
		}
	}
	v := readShards(t, dir, StageValid)
	found := 0
	for i := 0; i < v.n(); i++ {
		ids, _ := v.seq(i)
		text := tok.Decode(ids)
		if strings.Contains(text, "zebra-striped unicorn sapphire") {
			found++
		}
		if strings.Contains(text, "interacted") && !strings.HasSuffix(text, held.String()[:0]+tok.Decode(span)+sid.TokenEOS) {
			t.Errorf("valid recommend target is not the test item: %q", text)
		}
		// As neo eval does, the prompt names the target's type.
		if strings.Contains(text, "interacted") && !strings.Contains(text, TypePlural(held.Type)) {
			t.Errorf("valid recommend prompt does not name the target type %q: %q", TypePlural(held.Type), text)
		}
	}
	if found != 1 || v.n() != 7 {
		t.Errorf("valid: %d sequences, test query found %d times; want 7 and 1", v.n(), found)
	}
	// The tokenizer never saw the held-out query either.
	if _, ok := tok.TokenID("Ġzebra"); ok {
		t.Error("tokenizer learned a token from the held-out query")
	}
}

func TestExportDeterministic(t *testing.T) {
	in := fixture()
	_, d1 := export(t, in, Options{Seed: 7})
	// Same records in another order: same bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	in2 := fixture()
	rng.Shuffle(len(in2.Items), func(i, j int) { in2.Items[i], in2.Items[j] = in2.Items[j], in2.Items[i] })
	rng.Shuffle(len(in2.Queries), func(i, j int) { in2.Queries[i], in2.Queries[j] = in2.Queries[j], in2.Queries[i] })
	_, d2 := export(t, in2, Options{Seed: 7})
	_, d3 := export(t, in, Options{Seed: 8})
	files := []string{sid.TokenizerFile, sid.MetaFile, "shards/manifest.json"}
	for _, s := range Stages {
		files = append(files, "shards/"+s+".ids.bin", "shards/"+s+".mask.bin", "shards/"+s+".offsets.bin")
	}
	differs := false
	for _, f := range files {
		a, _ := os.ReadFile(filepath.Join(d1, f))
		b, _ := os.ReadFile(filepath.Join(d2, f))
		c, _ := os.ReadFile(filepath.Join(d3, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two exports of the same input", f)
		}
		differs = differs || !bytes.Equal(a, c)
	}
	if !differs {
		t.Error("another seed gave identical shards")
	}
	entries, _ := os.ReadDir(filepath.Join(d1, "shards"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left-over temp file %s", e.Name())
		}
	}
}

func TestExportErrors(t *testing.T) {
	noSID := fixture()
	noSID.Items[2].SID = ""
	noSID.Items[5].SID = " "
	mixedLevels := fixture()
	mixedLevels.Items[1].SID = "bracelet-1-1-1"
	dupSID := fixture()
	dupSID.Items[1].SID = dupSID.Items[0].SID
	dupID := fixture()
	dupID.Items[1].ID = dupID.Items[0].ID
	badSID := fixture()
	badSID.Items[0].SID = "Bracelet-x"
	cases := []struct {
		name string
		in   Input
		opt  Options
		want string
	}{
		{"empty catalog", Input{}, Options{}, "empty catalog"},
		{"items without SIDs", noSID, Options{}, "2 of 16 items have no SID (br-2, br-5)"},
		{"SIDs of different lengths", mixedLevels, Options{}, "3 codes, other items have 4"},
		{"duplicate SID", dupSID, Options{}, "share SID"},
		{"duplicate id", dupID, Options{}, "appears twice"},
		{"unparsable SID", badSID, Options{}, "invalid SID"},
		{"tiny vocabulary", fixture(), Options{VocabSize: 100}, "below the minimum 258"},
		{"tiny max-seq", fixture(), Options{MaxSeq: 8}, "below the minimum"},
		{"no out dir", fixture(), Options{OutDir: "-"}, "no output directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := c.opt
			switch opt.OutDir {
			case "":
				opt.OutDir = t.TempDir()
			case "-":
				opt.OutDir = ""
			}
			_, err := Export(context.Background(), c.in, opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
}

func TestExportSmallCatalogs(t *testing.T) {
	one := Input{Items: []index.Item{{ID: "only", Type: "lamp", Title: "Desk lamp", SID: "lamp-0-0"}}}
	cases := []struct {
		name string
		in   Input
	}{
		{"a single item, no logs", one},
		{"a type with one item", fixture()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, _ := export(t, c.in, Options{Seed: 1})
			if m.Stages[StageWarmup].Sequences != int64(len(c.in.Items)) || m.Stages[StageGround].Sequences != int64(3*len(c.in.Items)) {
				t.Errorf("stages %+v", m.Stages)
			}
		})
	}
}

// TestExportLongText covers the length rules: fields clipped, warmup cut at
// MaxSeq, oldest history dropped, long queries shortened, completions
// intact, hopeless samples dropped.
func TestExportLongText(t *testing.T) {
	in := fixture()
	long := strings.Repeat("Lumière 💍 résumé ", 3000)
	in.Items[0].Description = long
	var cjk []rune
	for i := 0; i < 5000; i++ {
		cjk = append(cjk, rune(0x4E00+7*i))
	}
	in.Items[1].Title = string(cjk) // 200 distinct 3-byte runes after clipping: SID→text cannot fit 64 tokens
	in.Queries = append(in.Queries, folder.Query{Query: long, Relevant: []folder.Relevance{{Item: "br-1", Grade: 2}}})
	for u := 0; u < 40; u++ {
		in.Interactions = append(in.Interactions, folder.Interaction{User: "long", Item: fmt.Sprintf("ri-%d", u%6), TS: int64(u)})
	}
	m, dir := export(t, in, Options{Seed: 1, MaxSeq: 64})
	if m.Report.Truncated[StageWarmup] == 0 || m.Report.Truncated[StageInstruct] == 0 || m.Report.Dropped[StageGround] == 0 {
		t.Errorf("truncated %v, dropped %v", m.Report.Truncated, m.Report.Dropped)
	}
	meta, _ := sid.LoadModelMeta(dir)
	tok, _ := sid.LoadTokenizer(dir)
	for _, stage := range Stages {
		s := readShards(t, dir, stage)
		for i := 0; i < s.n(); i++ {
			ids, mask := s.seq(i)
			if len(ids) > 64 {
				t.Fatalf("%s sequence of %d tokens", stage, len(ids))
			}
			text := tok.Decode(ids)
			if stage != StageWarmup && ids[len(ids)-1] != meta.Special[sid.TokenEOS] {
				t.Fatalf("%s sequence lost its end: %q", stage, text)
			}
			if stage == StageInstruct && strings.Contains(text, "interacted") && !strings.Contains(text, "[SID]") {
				t.Fatalf("history dropped entirely: %q", text)
			}
			_ = mask
		}
	}
	// A 30k-rune description reaches warmup as at most 1000 runes.
	if got := cleanText(long, maxDescRunes); len([]rune(got)) > maxDescRunes || !strings.HasPrefix(long, got) {
		t.Errorf("clipped description: %d runes", len([]rune(got)))
	}
}

func TestClipRunes(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"hello world again", 13, "hello world"}, // backs up to the space in the last fifth
		{"abcdefghij klm", 10, "abcdefghij"},
		{"abcdefghijklmnop", 5, "abcde"}, // no space: cut mid-word
		{"Lumière Lumière", 6, "Lumièr"},
		{"💍💍💍💍", 2, "💍💍"},
		{"aaaa bbbbbbbbbbbbbbbbbb", 20, "aaaa bbbbbbbbbbbbbbb"}, // space too far back
		{"x", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := clipRunes(c.in, c.max); got != c.want {
				t.Errorf("clipRunes(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
		})
	}
	if got := cleanText(" a\n\n b\t\x00c  ", 100); got != "a b c" {
		t.Errorf("cleanText = %q", got)
	}
}
