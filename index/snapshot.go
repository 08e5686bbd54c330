package index

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/sid"
)

// MaxDelta is the number of items the delta may hold before a full rebuild
// starts in the background.
const MaxDelta = 1024

// Snapshot is an immutable view of the catalog's SIDs for the decoder: one
// constraint trie over every item that had an SID at the last rebuild, plus
// a small delta trie of items put since. Ordinals 0..Trie.Len()-1 are main
// items, Trie.Len()+i is delta item i. Only availability changes in place
// (stock flips, deletions), so a reader holds one snapshot for a whole
// request and sees one consistent set of items.
//
// Trie is nil when no item had an SID at the last rebuild; Delta is nil
// when the delta is empty. A type's index in the tries is its position in
// Types: the sorted types at the last rebuild, then types first seen in
// the delta.
type Snapshot struct {
	Trie     *sid.Trie
	Types    []string
	IDs      []string // main ordinal → item id
	Delta    *sid.Trie
	DeltaIDs []string // delta trie ordinal → item id

	ord      map[string]uint32 // id → main ordinal
	deltaOrd map[string]uint32 // id → delta trie ordinal
	width    int               // key width (1 + codes) of the main trie; 0 if empty
}

// deltaEntry is an item in the delta, kept by the Catalog to rebuild the
// delta trie.
type deltaEntry struct {
	id    string
	sid   sid.SID
	avail bool
}

func (s *Snapshot) mainLen() uint32 {
	if s.Trie == nil {
		return 0
	}
	return uint32(s.Trie.Len())
}

// Len is the number of ordinals, main and delta.
func (s *Snapshot) Len() int {
	n := int(s.mainLen())
	if s.Delta != nil {
		n += s.Delta.Len()
	}
	return n
}

// Ordinal returns the ordinal of an item. An item whose SID changed or
// that was deleted after the last rebuild may keep an old, unavailable
// ordinal: check Available.
func (s *Snapshot) Ordinal(id string) (uint32, bool) {
	if o, ok := s.deltaOrd[id]; ok {
		return s.mainLen() + o, true
	}
	o, ok := s.ord[id]
	return o, ok
}

// ID returns the id of the item at ord, or "" when ord is out of range.
func (s *Snapshot) ID(ord uint32) string {
	if m := s.mainLen(); ord >= m {
		if i := ord - m; i < uint32(len(s.DeltaIDs)) {
			return s.DeltaIDs[i]
		}
		return ""
	}
	return s.IDs[ord]
}

// SID returns the SID of the item at ord (the zero SID when out of range).
func (s *Snapshot) SID(ord uint32) sid.SID {
	t, o := s.locate(ord)
	if t == nil {
		return sid.SID{}
	}
	key := t.Key(o, make([]uint16, 0, t.Width()))
	out := sid.SID{Type: s.Types[key[0]], Codes: make([]int, len(key)-1)}
	for i, c := range key[1:] {
		out.Codes[i] = int(c)
	}
	return out
}

// TypeOf returns the entity type of the item at ord ("" when out of
// range), without building its SID.
func (s *Snapshot) TypeOf(ord uint32) string {
	t, o := s.locate(ord)
	if t == nil {
		return ""
	}
	var buf [sid.MaxCodes + 1]uint16
	key := t.Key(o, buf[:0])
	if len(key) == 0 || int(key[0]) >= len(s.Types) {
		return ""
	}
	return s.Types[key[0]]
}

// Available reports whether the item at ord may be emitted: it exists, is
// in stock and was not deleted.
func (s *Snapshot) Available(ord uint32) bool {
	t, o := s.locate(ord)
	return t != nil && t.Available(o)
}

// Lookup returns the ordinal of the item with the given SID. The delta is
// searched first: when an SID moved to a new item since the last rebuild,
// the main trie still holds its old, unavailable entry.
func (s *Snapshot) Lookup(x sid.SID) (uint32, bool) {
	ti := s.TypeIndex(x.Type)
	if ti < 0 {
		return 0, false
	}
	key := make([]uint16, 0, len(x.Codes)+1)
	key = append(key, uint16(ti))
	for _, c := range x.Codes {
		if c < 0 || c > sid.MaxCode {
			return 0, false
		}
		key = append(key, uint16(c))
	}
	if s.Delta != nil && s.Delta.Width() == len(key) {
		if o, ok := s.Delta.Find(key); ok {
			return s.mainLen() + o, true
		}
	}
	if s.Trie != nil && s.Trie.Width() == len(key) {
		return s.Trie.Find(key)
	}
	return 0, false
}

// TypeIndex returns the trie index of an entity type, or -1.
func (s *Snapshot) TypeIndex(typ string) int { return slices.Index(s.Types, typ) }

// locate maps a snapshot ordinal to its trie and the ordinal within it.
func (s *Snapshot) locate(ord uint32) (*sid.Trie, uint32) {
	m := s.mainLen()
	if ord < m {
		return s.Trie, ord
	}
	if s.Delta != nil && ord-m < uint32(s.Delta.Len()) {
		return s.Delta, ord - m
	}
	return nil, 0
}

// Snapshot returns the current snapshot; a reader holds it for its whole
// request. The first call builds it (see Rebuild); should that fail, the
// error is logged and an empty snapshot returned, and the next call tries
// again.
func (c *Catalog) Snapshot() *Snapshot {
	if s := c.snap.Load(); s != nil {
		return s
	}
	c.rebuildMu.Lock()
	defer c.rebuildMu.Unlock()
	if s := c.snap.Load(); s != nil {
		return s
	}
	if err := c.rebuild(); err != nil {
		slog.Error("index: building the SID snapshot failed", "err", err)
		return &Snapshot{}
	}
	return c.snap.Load()
}

// Rebuild reads every item that has an SID, builds one trie over them and
// swaps in a new snapshot with an empty delta. Writes go on while it runs;
// those that land after it started reading are replayed onto the new
// snapshot before the swap. Items are left out, with a logged warning,
// when their SID does not parse, when their number of codes differs from
// that of most SIDs, or when another item with a smaller id has the same
// SID.
func (c *Catalog) Rebuild() error {
	c.rebuildMu.Lock()
	defer c.rebuildMu.Unlock()
	return c.rebuild()
}

// rebuild does Rebuild's work; c.rebuildMu must be held.
func (c *Catalog) rebuild() error {
	c.mu.Lock()
	c.touched = map[string]struct{}{}
	c.mu.Unlock()

	ns, err := c.readSnapshot()

	c.mu.Lock()
	defer c.mu.Unlock()
	touched := c.touched
	c.touched = nil
	if err != nil {
		return err
	}
	// On failure the current snapshot and its delta stay as they were.
	oldDelta, oldAt := c.delta, c.deltaAt
	if ns, err = c.replay(ns, touched); err != nil {
		c.delta, c.deltaAt = oldDelta, oldAt
		return fmt.Errorf("index: rebuild: %w", err)
	}
	c.snap.Store(ns)
	return nil
}

// replay applies the writes made while a rebuild read the index onto its
// new snapshot, starting from an empty delta, and returns the snapshot
// with that delta. c.mu must be held.
func (c *Catalog) replay(ns *Snapshot, touched map[string]struct{}) (*Snapshot, error) {
	c.delta, c.deltaAt = nil, map[string]int{}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		it, ok, err := c.Get(id)
		if err != nil {
			return nil, err
		}
		if ok {
			c.apply(ns, id, &it)
		} else {
			c.apply(ns, id, nil)
		}
	}
	return c.withDelta(ns)
}

// readSnapshot reads the SIDs of all items from the index and builds the
// main trie.
func (c *Catalog) readSnapshot() (*Snapshot, error) {
	type rec struct {
		id      string
		sid     sid.SID
		inStock bool
	}
	var recs []rec
	widths := map[int]int{}
	var unparsable, misfit, dup skipped
	err := c.scan(context.Background(), query.NewMatchAllQuery(), []string{FieldSID, FieldInStock}, func(id string, f map[string]any) error {
		key, _ := f[FieldSID].(string)
		if key == "" {
			return nil
		}
		x, err := sid.Parse(key)
		if err != nil {
			unparsable.add(id)
			return nil
		}
		inStock, ok := f[FieldInStock].(bool)
		recs = append(recs, rec{id, x, inStock || !ok})
		widths[len(x.Codes)+1]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: rebuild: %w", err)
	}
	slices.SortFunc(recs, func(a, b rec) int { return strings.Compare(a.id, b.id) })
	width := 0
	for w, n := range widths {
		if n > widths[width] || n == widths[width] && w < width {
			width = w
		}
	}
	// recs are in id order, so the first owner of a duplicated SID wins.
	seen := map[string]bool{}
	keep := recs[:0]
	for _, r := range recs {
		k := r.sid.Key()
		switch {
		case len(r.sid.Codes)+1 != width:
			misfit.add(r.id)
		case seen[k]:
			dup.add(r.id)
		default:
			seen[k] = true
			keep = append(keep, r)
		}
	}
	recs = keep
	unparsable.warn("index: items with an unparsable sid left out of the snapshot")
	misfit.warn("index: items left out of the snapshot: their SIDs have another number of codes than most", "codes", width-1)
	dup.warn("index: items left out of the snapshot: another item with a smaller id has their SID")

	ns := &Snapshot{ord: make(map[string]uint32, len(recs)), width: width}
	if len(recs) == 0 {
		ns.width = 0
		return ns, nil
	}
	for _, r := range recs {
		if !slices.Contains(ns.Types, r.sid.Type) {
			ns.Types = append(ns.Types, r.sid.Type)
		}
	}
	sort.Strings(ns.Types)
	keys := sid.Keys{Width: width}
	for _, r := range recs {
		keys.Append(ns.TypeIndex(r.sid.Type), r.sid.Codes)
	}
	t, perm, err := sid.BuildTrie(keys)
	if err != nil {
		return nil, fmt.Errorf("index: rebuild: %w", err)
	}
	ns.Trie = t
	ns.IDs = make([]string, len(perm))
	for o, p := range perm {
		r := recs[p]
		ns.IDs[o] = r.id
		ns.ord[r.id] = uint32(o)
		if !r.inStock {
			t.SetAvailable(uint32(o), false)
		}
	}
	return ns, nil
}

// skipped counts the items a rebuild leaves out, for one warning per kind.
type skipped struct {
	n     int
	first string
}

func (s *skipped) add(id string) {
	if s.n == 0 {
		s.first = id
	}
	s.n++
}

func (s *skipped) warn(msg string, args ...any) {
	if s.n > 0 {
		slog.Warn(msg, append([]any{"count", s.n, "first", s.first}, args...)...)
	}
}

// width is the key width writes must match: the main trie's, else the
// delta's, else 0 (any).
func (c *Catalog) width(s *Snapshot) int {
	if s != nil && s.width > 0 {
		return s.width
	}
	if len(c.delta) > 0 {
		return len(c.delta[0].sid.Codes) + 1
	}
	return 0
}

// apply updates s's availability and the catalog's delta for a write of id
// (it is the item now stored, nil when deleted) and reports whether the
// delta's items changed, so its trie must be rebuilt. c.mu must be held.
func (c *Catalog) apply(s *Snapshot, id string, it *Item) (deltaChanged bool) {
	var want sid.SID
	has, avail := false, false
	if it != nil && it.SID != "" {
		x, err := sid.Parse(it.SID)
		switch w := c.width(s); {
		case err != nil:
			slog.Warn("index: unparsable sid left out of the snapshot", "item", id, "sid", it.SID)
		case w > 0 && len(x.Codes)+1 != w:
			slog.Warn("index: sid left out of the snapshot: its number of codes differs from the catalog's", "item", id, "sid", it.SID, "codes", w-1)
		default:
			want, has, avail = x, true, it.InStock
		}
	}
	inMain := false
	if o, ok := s.ord[id]; ok {
		inMain = has && s.SID(o).Equal(want)
		s.Trie.SetAvailable(o, inMain && avail)
	}
	i, inDelta := c.deltaAt[id]
	switch {
	case !has || inMain:
		if inDelta {
			c.removeDelta(i)
		}
		return inDelta
	case inDelta && c.delta[i].sid.Equal(want):
		c.delta[i].avail = avail
		if o, ok := s.deltaOrd[id]; ok {
			s.Delta.SetAvailable(o, avail)
		}
		return false
	}
	if inDelta {
		c.removeDelta(i)
	}
	// The SID is free in the index (writes check that), so a delta entry
	// still holding it is stale: a deleted item or one whose SID changed.
	if j := slices.IndexFunc(c.delta, func(e deltaEntry) bool { return e.sid.Equal(want) }); j >= 0 {
		c.removeDelta(j)
	}
	c.deltaAt[id] = len(c.delta)
	c.delta = append(c.delta, deltaEntry{id: id, sid: want, avail: avail})
	return true
}

func (c *Catalog) removeDelta(i int) {
	delete(c.deltaAt, c.delta[i].id)
	last := len(c.delta) - 1
	if i != last {
		c.delta[i] = c.delta[last]
		c.deltaAt[c.delta[i].id] = i
	}
	c.delta = c.delta[:last]
}

// withDelta returns a snapshot sharing base's main trie with a delta trie
// built from the catalog's delta entries. c.mu must be held.
func (c *Catalog) withDelta(base *Snapshot) (*Snapshot, error) {
	ns := *base
	ns.Delta, ns.DeltaIDs, ns.deltaOrd = nil, nil, nil
	if len(c.delta) == 0 {
		return &ns, nil
	}
	keys := sid.Keys{Width: len(c.delta[0].sid.Codes) + 1}
	for _, e := range c.delta {
		ti := ns.TypeIndex(e.sid.Type)
		if ti < 0 {
			ns.Types = append(slices.Clip(ns.Types), e.sid.Type)
			ti = len(ns.Types) - 1
		}
		keys.Append(ti, e.sid.Codes)
	}
	t, perm, err := sid.BuildTrie(keys)
	if err != nil {
		return nil, fmt.Errorf("delta trie: %w", err)
	}
	ns.Delta = t
	ns.DeltaIDs = make([]string, len(perm))
	ns.deltaOrd = make(map[string]uint32, len(perm))
	for o, p := range perm {
		e := c.delta[p]
		ns.DeltaIDs[o] = e.id
		ns.deltaOrd[e.id] = uint32(o)
		if !e.avail {
			t.SetAvailable(uint32(o), false)
		}
	}
	return &ns, nil
}
