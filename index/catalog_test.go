package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/blevesearch/bleve/v2"

	"github.com/neo-search/neo/sid"
)

// fixture is a small catalog: rings and watches with SIDs, one scarf
// without.
func fixture() []Item {
	var out []Item
	for i := range 6 {
		out = append(out, Item{
			ID: fmt.Sprintf("ring-%d", i), Type: "ring", Title: fmt.Sprintf("Ring %d", i), Brand: "Corvo",
			Attributes: map[string]string{"material": []string{"rose gold", "platinum"}[i%2]},
			Price:      float64(100 * (i + 1)), InStock: i != 3,
			SID: fmt.Sprintf("ring-%d-%d-0", i/3, i%3),
		})
	}
	for i := range 3 {
		out = append(out, Item{
			ID: fmt.Sprintf("watch-%d", i), Type: "watch", Title: fmt.Sprintf("Watch %d", i), Brand: "Nordlys",
			Price: float64(1000 * (i + 1)), InStock: true, SID: fmt.Sprintf("watch-0-%d-0", i),
		})
	}
	return append(out, Item{ID: "scarf-0", Type: "scarf", Title: "Scarf", Price: 50, InStock: true})
}

func openFixture(t *testing.T) *Catalog {
	t.Helper()
	c, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, it := range fixture() {
		if err := c.Put(it); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func mustSID(t *testing.T, s string) sid.SID {
	t.Helper()
	x, err := sid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestCRUD(t *testing.T) {
	c := openFixture(t)
	t.Run("count and items sorted", func(t *testing.T) {
		n, err := c.Count()
		if err != nil || n != 10 {
			t.Fatalf("Count = %d, %v; want 10", n, err)
		}
		items, err := c.Items()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSortedFunc(items, func(a, b Item) int { return strings.Compare(a.ID, b.ID) }) || len(items) != 10 {
			t.Fatalf("Items not 10 sorted items: %v", items)
		}
	})
	t.Run("get returns what was put", func(t *testing.T) {
		want := fixture()[0]
		got, ok, err := c.Get(want.ID)
		if err != nil || !ok {
			t.Fatalf("Get: %v %v", ok, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		if _, ok, err := c.Get("nope"); ok || err != nil {
			t.Fatalf("Get(nope) = %v, %v", ok, err)
		}
	})
	t.Run("update normalises and replaces", func(t *testing.T) {
		it := fixture()[1]
		it.Title, it.Type = "New title", "Ring"
		if err := c.Put(it); err != nil {
			t.Fatal(err)
		}
		got, _, _ := c.Get(it.ID)
		if got.Title != "New title" || got.Type != "ring" {
			t.Fatalf("got %+v", got)
		}
		if n, _ := c.Count(); n != 10 {
			t.Fatalf("count %d after update", n)
		}
	})
	t.Run("invalid item", func(t *testing.T) {
		if err := c.Put(Item{ID: "x", Type: "??"}); !errors.Is(err, ErrInvalidItem) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("duplicate sid", func(t *testing.T) {
		err := c.Put(Item{ID: "other", Type: "ring", SID: "ring-0-0-0"})
		if !errors.Is(err, ErrDuplicateSID) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("sid width must match", func(t *testing.T) {
		c.Snapshot()
		err := c.Put(Item{ID: "other", Type: "ring", SID: "ring-9-9-9-0"})
		if !errors.Is(err, ErrInvalidItem) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("set stock", func(t *testing.T) {
		if err := c.SetStock("scarf-0", false); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := c.Get("scarf-0"); got.InStock {
			t.Fatal("still in stock")
		}
		if err := c.SetStock("nope", true); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := c.Delete("scarf-0"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.Get("scarf-0"); ok {
			t.Fatal("still there")
		}
		if err := c.Delete("scarf-0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestOpenPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "idx")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(fixture()[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, ok, err := c.Get(fixture()[0].ID); !ok || err != nil || got.Title != fixture()[0].Title {
		t.Fatalf("after reopen: %+v %v %v", got, ok, err)
	}
	t.Run("refuses a non-index directory", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644)
		if c, err := Open(dir); err == nil {
			c.Close()
			t.Fatal("opened a directory holding other files")
		}
	})
}

func TestImport(t *testing.T) {
	// Lines 2 and 10 are blank; 3, 4, 5, 6, 7, 8 and 11 are bad.
	lines := []string{
		`{"id":"a","type":"ring","title":"A","price":10,"sid":"ring-0-0-0"}`,
		``,
		`{"id":"b","type":"ring","price":"12"}`,
		`{"id":"c","type":"watch","in_stock":"yes"}`,
		`{"id":`,
		`{"type":"ring"}`,
		`{"id":"a","type":"ring"}`,
		`{"id":"d","type":"ring","sid":"ring-0-0-0"}`,
		`{"id":"e","type":"Watch","in_stock":false}`,
		`   `,
		`{"id":"f","type":"%%%"}`,
		`{"id":"g","type":"ring","sid":"ring-0-1-0"}`,
	}
	c, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var progress strings.Builder
	rep, err := c.Import(context.Background(), strings.NewReader(strings.Join(lines, "\n")), ImportOptions{BatchSize: 2, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	wantBad := []struct {
		line   int
		id     string
		reason string
	}{
		{3, "b", `field "price": want a number, got string`},
		{4, "c", `field "in_stock": want true or false, got string`},
		{5, "", "invalid JSON"},
		{6, "", `missing field "id"`},
		{7, "a", "duplicate id (first on line 1)"},
		{8, "d", `duplicate sid ring-0-0-0 (item "a" on line 1 has it)`},
		{11, "f", `not a usable entity type`},
	}
	if len(rep.Bad) != len(wantBad) {
		t.Fatalf("bad lines %+v, want %d", rep.Bad, len(wantBad))
	}
	for i, w := range wantBad {
		t.Run(fmt.Sprintf("line %d", w.line), func(t *testing.T) {
			b := rep.Bad[i]
			if b.Line != w.line || b.ID != w.id || !strings.Contains(b.Reason, w.reason) {
				t.Fatalf("got %+v, want line %d id %q reason ~%q", b, w.line, w.id, w.reason)
			}
		})
	}
	if rep.Lines != 10 || rep.Imported != 3 {
		t.Fatalf("report %+v, want 10 lines, 3 imported", rep)
	}
	for _, id := range []string{"a", "e", "g"} {
		if _, ok, _ := c.Get(id); !ok {
			t.Errorf("good item %q missing", id)
		}
	}
	if e, _, _ := c.Get("e"); e.Type != "watch" || e.InStock {
		t.Errorf("e = %+v", e)
	}
	if !strings.Contains(progress.String(), "import") {
		t.Errorf("no progress bar written: %q", progress.String())
	}

	t.Run("sids move between items", func(t *testing.T) {
		s := c.Snapshot()
		// a and g swap SIDs, h takes a new one, k tries g's old one
		// after g moved off it in an earlier batch, m tries a taken one.
		in := strings.Join([]string{
			`{"id":"a","type":"ring","sid":"ring-0-1-0"}`,
			`{"id":"h","type":"ring","sid":"ring-0-2-0"}`,
			`{"id":"g","type":"ring","sid":"ring-0-0-0"}`,
			`{"id":"m","type":"ring","sid":"ring-0-2-0"}`,
		}, "\n")
		rep, err := c.Import(context.Background(), strings.NewReader(in), ImportOptions{BatchSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Imported != 3 || len(rep.Bad) != 1 || rep.Bad[0].Line != 4 {
			t.Fatalf("report %+v", rep)
		}
		for id, want := range map[string]string{"a": "ring-0-1-0", "g": "ring-0-0-0", "h": "ring-0-2-0"} {
			if it, _, _ := c.Get(id); it.SID != want {
				t.Errorf("%s has sid %q, want %q", id, it.SID, want)
			}
		}
		// The import rebuilt the live snapshot.
		ns := c.Snapshot()
		if ns == s || ns.Len() != 3 {
			t.Fatalf("snapshot not rebuilt: len %d", ns.Len())
		}
		if o, ok := ns.Lookup(mustSID(t, "ring-0-0-0")); !ok || ns.ID(o) != "g" {
			t.Errorf("ring-0-0-0 → %q", ns.ID(o))
		}
	})
	t.Run("sid held by an item not in the input", func(t *testing.T) {
		rep, err := c.Import(context.Background(), strings.NewReader(`{"id":"z","type":"ring","sid":"ring-0-0-0"}`), ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Bad) != 1 || !strings.Contains(rep.Bad[0].Reason, `item "g" has it`) {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Import(ctx, strings.NewReader(`{"id":"y","type":"ring"}`), ImportOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSnapshot(t *testing.T) {
	c := openFixture(t)
	s := c.Snapshot()
	if s.Len() != 9 || s.Trie.Len() != 9 || s.Delta != nil {
		t.Fatalf("len %d", s.Len())
	}
	if !slices.Equal(s.Types, []string{"ring", "watch"}) {
		t.Fatalf("types %v", s.Types)
	}
	for _, it := range fixture() {
		o, ok := s.Ordinal(it.ID)
		if it.SID == "" {
			if ok {
				t.Errorf("%s without sid has ordinal %d", it.ID, o)
			}
			continue
		}
		if !ok || s.ID(o) != it.ID || s.SID(o).Key() != it.SID || s.Available(o) != it.InStock {
			t.Errorf("%s: ord %d ok %v id %q sid %v available %v", it.ID, o, ok, s.ID(o), s.SID(o), s.Available(o))
		}
		if lo, ok := s.Lookup(mustSID(t, it.SID)); !ok || lo != o {
			t.Errorf("Lookup(%s) = %d %v, want %d", it.SID, lo, ok, o)
		}
	}
	ord := func(s *Snapshot, id string) uint32 {
		o, ok := s.Ordinal(id)
		if !ok {
			t.Fatalf("%s has no ordinal", id)
		}
		return o
	}

	t.Run("stock flip visible in a held snapshot", func(t *testing.T) {
		o := ord(s, "ring-0")
		if err := c.SetStock("ring-0", false); err != nil {
			t.Fatal(err)
		}
		if s.Available(o) {
			t.Fatal("still available")
		}
		if err := c.SetStock("ring-0", true); err != nil {
			t.Fatal(err)
		}
		if !s.Available(o) {
			t.Fatal("not available again")
		}
	})
	t.Run("deleted items stay unavailable", func(t *testing.T) {
		o := ord(s, "ring-1")
		if err := c.Delete("ring-1"); err != nil {
			t.Fatal(err)
		}
		if s.Available(o) {
			t.Fatal("deleted item available")
		}
		if err := c.SetStock("ring-1", true); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SetStock on deleted: %v", err)
		}
		if c.Snapshot().Available(o) {
			t.Fatal("SetStock revived a deleted item")
		}
	})
	t.Run("delta inserts", func(t *testing.T) {
		for _, it := range []Item{
			{ID: "ring-new", Type: "ring", InStock: true, SID: "ring-5-5-0"},
			{ID: "belt-new", Type: "belt", InStock: false, SID: "belt-0-0-0"},
			// takes the SID the deleted ring-1 had in the main trie
			{ID: "ring-heir", Type: "ring", InStock: true, SID: "ring-0-1-0"},
		} {
			if err := c.Put(it); err != nil {
				t.Fatal(err)
			}
		}
		d := c.Snapshot()
		if d == s || d.Trie != s.Trie || d.Delta.Len() != 3 || d.Len() != 12 {
			t.Fatalf("delta not swapped in: len %d", d.Len())
		}
		if s.Len() != 9 {
			t.Fatal("held snapshot changed")
		}
		if !slices.Equal(d.Types, []string{"ring", "watch", "belt"}) {
			t.Fatalf("types %v", d.Types)
		}
		for id, want := range map[string]bool{"ring-new": true, "belt-new": false, "ring-heir": true} {
			o := ord(d, id)
			if o < uint32(d.Trie.Len()) || d.ID(o) != id || d.Available(o) != want {
				t.Errorf("%s: ord %d id %q available %v", id, o, d.ID(o), d.Available(o))
			}
			if lo, ok := d.Lookup(d.SID(o)); !ok || lo != o {
				t.Errorf("Lookup(%v) = %d, want %d", d.SID(o), lo, o)
			}
		}
		if err := c.SetStock("belt-new", true); err != nil {
			t.Fatal(err)
		}
		if !d.Available(ord(d, "belt-new")) {
			t.Fatal("delta stock flip not visible")
		}
	})
	t.Run("sid change moves to the delta", func(t *testing.T) {
		old := ord(s, "watch-0")
		it, _, _ := c.Get("watch-0")
		it.SID = "watch-7-7-0"
		if err := c.Put(it); err != nil {
			t.Fatal(err)
		}
		d := c.Snapshot()
		if d.Available(old) {
			t.Fatal("old ordinal still available")
		}
		if o := ord(d, "watch-0"); o < uint32(d.Trie.Len()) || d.SID(o).Key() != "watch-7-7-0" || !d.Available(o) {
			t.Fatalf("new ordinal %d sid %v", o, d.SID(o))
		}
		// and back: the main entry serves again, the delta entry goes
		it.SID = "watch-0-0-0"
		if err := c.Put(it); err != nil {
			t.Fatal(err)
		}
		d = c.Snapshot()
		if o := ord(d, "watch-0"); o != old || !d.Available(o) || d.Delta.Len() != 3 {
			t.Fatalf("back: ord %d (want %d), delta %d", o, old, d.Delta.Len())
		}
	})
	t.Run("rebuild folds the delta in", func(t *testing.T) {
		if err := c.Rebuild(); err != nil {
			t.Fatal(err)
		}
		r := c.Snapshot()
		if r.Delta != nil || r.Len() != 11 || !slices.Equal(r.Types, []string{"belt", "ring", "watch"}) {
			t.Fatalf("len %d types %v", r.Len(), r.Types)
		}
		if _, ok := r.Ordinal("ring-1"); ok {
			t.Fatal("deleted item in rebuilt snapshot")
		}
		if !r.Available(ord(r, "ring-heir")) || r.Available(ord(r, "ring-3")) {
			t.Fatal("availability wrong after rebuild")
		}
	})
}

func TestBackgroundRebuild(t *testing.T) {
	c, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.maxDelta = 20
	c.Snapshot()
	for i := range c.maxDelta + 1 {
		if err := c.Put(Item{ID: fmt.Sprintf("r%04d", i), Type: "ring", InStock: true, SID: fmt.Sprintf("ring-%d-%d-0", i/256, i%256)}); err != nil {
			t.Fatal(err)
		}
	}
	c.bg.Wait()
	s := c.Snapshot()
	if s.Trie == nil || s.Trie.Len() != c.maxDelta+1 || s.Delta != nil {
		t.Fatalf("no rebuild: main %v delta %v", s.Trie, s.Delta)
	}
}

func TestFilter(t *testing.T) {
	c := openFixture(t)
	s := c.Snapshot()
	want := func(ids ...string) []uint32 {
		var out []uint32
		for _, id := range ids {
			o, ok := s.Ordinal(id)
			if !ok {
				t.Fatalf("%s has no ordinal", id)
			}
			out = append(out, o)
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		name, filter string
		want         []uint32
	}{
		{"all", "", want("ring-0", "ring-1", "ring-2", "ring-3", "ring-4", "ring-5", "watch-0", "watch-1", "watch-2")},
		{"type", "type:watch", want("watch-0", "watch-1", "watch-2")},
		{"price range and in stock", "+price:>=200 +price:<=2000 +in_stock:true", want("ring-1", "ring-2", "ring-4", "ring-5", "watch-0", "watch-1")},
		{"out of stock", "in_stock:false", want("ring-3")},
		{"attribute", `attributes.material:"rose gold"`, want("ring-0", "ring-2", "ring-4")},
		{"json query", `{"conjuncts":[{"term":"Corvo","field":"brand"},{"min":400,"field":"price"}]}`, want("ring-3", "ring-4", "ring-5")},
		{"no match", "type:belt", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bm, err := c.FilterString(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := bm.ToArray(); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("query object", func(t *testing.T) {
		q := bleve.NewTermQuery("ring")
		q.SetField(FieldType)
		bm, err := c.Filter(q)
		if err != nil || bm.GetCardinality() != 6 {
			t.Fatalf("%v %v", bm, err)
		}
	})
	t.Run("bad filters", func(t *testing.T) {
		for _, f := range []string{"price:>>", `{"match":`, `{"bogus":1}`} {
			if _, err := c.FilterString(f); err == nil {
				t.Errorf("%q: no error", f)
			}
		}
	})
	t.Run("many hits", func(t *testing.T) { // past the 2,000-hit pages the scan once used
		const n = 2005
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, `{"id":"b%05d","type":"belt","sid":"belt-%d-%d-0"}`+"\n", i, i/256, i%256)
		}
		if rep, err := c.Import(context.Background(), strings.NewReader(in.String()), ImportOptions{}); err != nil || len(rep.Bad) > 0 {
			t.Fatal(rep, err)
		}
		bm, err := c.FilterString("type:belt")
		if err != nil || bm.GetCardinality() != n {
			t.Fatalf("%d hits, %v", bm.GetCardinality(), err)
		}
	})
}

// TestConcurrentStock flips stock and rebuilds while readers walk
// snapshots and filter; run with -race.
func TestConcurrentStock(t *testing.T) {
	c := openFixture(t)
	c.Snapshot()
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		writers.Go(func() {
			for i := range 50 {
				if err := c.SetStock(fmt.Sprintf("ring-%d", (i+w)%6), i%3 != 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Go(func() {
		for range 3 {
			if err := c.Rebuild(); err != nil {
				t.Error(err)
			}
		}
	})
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := c.Snapshot()
				for o := range uint32(s.Len()) {
					_, _, _ = s.Available(o), s.ID(o), s.SID(o)
				}
				if _, err := c.FilterIn(context.Background(), s, bleve.NewMatchAllQuery()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	// Once the writes settle, the snapshot agrees with the index.
	s := c.Snapshot()
	for i := range 6 {
		id := fmt.Sprintf("ring-%d", i)
		it, _, _ := c.Get(id)
		if o, _ := s.Ordinal(id); s.Available(o) != it.InStock {
			t.Errorf("%s: available %v, in stock %v", id, s.Available(o), it.InStock)
		}
	}
}

// TypeOf agrees with the SID's type for every ordinal, main and delta.
func TestSnapshotTypeOf(t *testing.T) {
	c := openFixture(t)
	if err := c.Rebuild(); err != nil {
		t.Fatal(err)
	}
	// one more item after the rebuild lands in the delta
	extra := fixture()[0]
	extra.ID, extra.SID = "extra-1", ""
	if err := c.Put(extra); err != nil {
		t.Fatal(err)
	}
	s := c.Snapshot()
	if s.Len() < 2 {
		t.Fatalf("snapshot of %d items", s.Len())
	}
	for o := uint32(0); int(o) < s.Len(); o++ {
		if got, want := s.TypeOf(o), s.SID(o).Type; got != want || got == "" {
			t.Fatalf("ordinal %d: TypeOf %q, SID type %q", o, got, want)
		}
	}
	if got := s.TypeOf(uint32(s.Len()) + 5); got != "" {
		t.Fatalf("out of range: %q", got)
	}
}

// TestPutMany: one batch, one error per item, the same rules as Put, and
// the snapshot follows every written item.
func TestPutMany(t *testing.T) {
	c := openFixture(t)
	_ = c.Snapshot()
	ring := func(id, s string) Item {
		return Item{ID: id, Type: "ring", Title: "Ring " + id, InStock: true, SID: s}
	}
	items := []Item{
		ring("new-1", "ring-1-5-0"),    // 0 ok
		ring("new-2", "ring-0-0-0"),    // 1 ring-0's SID
		ring("new-3", "ring-1-5-0"),    // 2 new-1 took it in this batch
		{ID: "", Type: "ring"},         // 3 invalid
		ring("new-4", "ring-0-1-0-7"),  // 4 wrong width
		ring("ring-1", "ring-1-6-0"),   // 5 ring-1 moves off ring-0-1-0 …
		ring("new-5", "ring-0-1-0"),    // 6 … so new-5 may take it
		ring("new-6", ""),              // 7 no SID: fine
		ring("new-7", "ring-1-7-0"),    // 8 superseded by line 9
		ring("new-7", "ring-1-8-0"),    // 9 ok, the item as written
		ring("watch-0", "watch-0-0-0"), // 10 a type change keeps the given SID check: it is watch-0's own
	}
	items[10].Type = "watch"
	errs := c.PutMany(items)
	wantErr := map[int]error{1: ErrDuplicateSID, 2: ErrDuplicateSID, 3: ErrInvalidItem, 4: ErrInvalidItem}
	for i, err := range errs {
		if want := wantErr[i]; want != nil {
			if !errors.Is(err, want) {
				t.Errorf("item %d (%s): %v, want %v", i, items[i].ID, err, want)
			}
		} else if err != nil {
			t.Errorf("item %d (%s): %v", i, items[i].ID, err)
		}
	}
	s := c.Snapshot()
	for id, key := range map[string]string{"new-1": "ring-1-5-0", "new-5": "ring-0-1-0", "ring-1": "ring-1-6-0", "new-7": "ring-1-8-0"} {
		got, ok, _ := c.Get(id)
		if !ok || got.SID != key {
			t.Errorf("%s: stored %+v, want SID %s", id, got, key)
		}
		o, ok := s.Lookup(mustSID(t, key))
		if !ok || s.ID(o) != id || !s.Available(o) {
			t.Errorf("%s: snapshot has %q at %s (ok %v)", id, s.ID(o), key, ok)
		}
	}
	if _, ok, _ := c.Get("new-2"); ok {
		t.Error("new-2 was written though its SID is taken")
	}
	if o, ok := s.Lookup(mustSID(t, "ring-1-7-0")); ok && s.Available(o) {
		t.Error("the superseded line's SID is in the snapshot")
	}
}

// TestImportManyChunks checks line numbers, counts and bad lines across
// the reader's chunks and several batches.
func TestImportManyChunks(t *testing.T) {
	c, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var in strings.Builder
	var wantBad []int
	lines, good := 0, 0
	for i := range 1500 {
		lines++
		switch {
		case i%211 == 5:
			in.WriteString("\n") // blank: not counted, not bad
			lines--
		case i%97 == 3:
			in.WriteString(`{"id":"x` + strconv.Itoa(i) + `","type":""}` + "\n")
			wantBad = append(wantBad, i+1)
		case i%131 == 7:
			in.WriteString(`{"id":"i1","type":"ring"}` + "\n") // duplicate of line 2
			wantBad = append(wantBad, i+1)
		default:
			in.WriteString(`{"id":"i` + strconv.Itoa(i) + `","type":"ring","title":"t"}` + "\n")
			good++
		}
	}
	rep, err := c.Import(context.Background(), strings.NewReader(in.String()), ImportOptions{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var gotBad []int
	for _, b := range rep.Bad {
		gotBad = append(gotBad, b.Line)
	}
	if rep.Lines != lines || rep.Imported != good || !slices.Equal(gotBad, wantBad) {
		t.Fatalf("lines %d imported %d bad %v; want %d, %d, %v", rep.Lines, rep.Imported, gotBad, lines, good, wantBad)
	}
	if n, _ := c.Count(); n != uint64(good) {
		t.Fatalf("count %d, want %d", n, good)
	}
}

// TestCatalogAttributeKeys: the catalog's distinct attribute keys are
// bounded whichever write path adds them (found by review: one _bulk of
// 40 items with 250 new keys each added 10,000 mapping fields), items that
// reuse existing keys are still written, and a reopened catalog still
// knows its keys.
func TestCatalogAttributeKeys(t *testing.T) {
	keys := func(from, n int) map[string]string {
		m := map[string]string{}
		for i := from; i < from+n; i++ {
			m[fmt.Sprintf("k%05d", i)] = "v"
		}
		return m
	}
	dir := filepath.Join(t.TempDir(), "index")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	per := MaxAttributes
	full := MaxCatalogAttributes / per // items that fit exactly
	for i := range full {
		if err := c.Put(Item{ID: fmt.Sprint("p", i), Type: "hat", Attributes: keys(i*per, per)}); err != nil {
			t.Fatalf("item %d within the bound: %v", i, err)
		}
	}
	if err := c.Put(Item{ID: "over", Type: "hat", Attributes: keys(full*per, 1)}); !errors.Is(err, ErrInvalidItem) {
		t.Fatalf("Put of a key past the bound: %v, want ErrInvalidItem", err)
	}
	if err := c.Put(Item{ID: "reuse", Type: "hat", Attributes: keys(0, 10)}); err != nil {
		t.Fatalf("Put reusing keys: %v", err)
	}
	errs := c.PutMany([]Item{{ID: "m1", Type: "hat", Attributes: keys(5, 3)}, {ID: "m2", Type: "hat", Attributes: keys(90000, 2)}})
	if errs[0] != nil || !errors.Is(errs[1], ErrInvalidItem) {
		t.Fatalf("PutMany: %v, want ok and ErrInvalidItem", errs)
	}
	lines := `{"id":"i1","type":"hat","attributes":{"k00001":"x"}}` + "\n" + `{"id":"i2","type":"hat","attributes":{"brand-new":"x"}}` + "\n"
	rep, err := c.Import(context.Background(), strings.NewReader(lines), ImportOptions{})
	if err != nil || rep.Imported != 1 || len(rep.Bad) != 1 || rep.Bad[0].Line != 2 {
		t.Fatalf("Import: %+v, %v; want line 2 refused", rep, err)
	}
	if _, ok, _ := c.Get("i2"); ok {
		t.Fatal("the refused import line was written")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Put(Item{ID: "after", Type: "hat", Attributes: keys(full*per+7, 1)}); !errors.Is(err, ErrInvalidItem) {
		t.Fatalf("after reopening: %v, want ErrInvalidItem", err)
	}
}
