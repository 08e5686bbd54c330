// Package index is neo's catalog on Bleve: the item model and its strict
// NDJSON formats (items, interactions, labelled queries), the Bleve mapping,
// bulk import with per-line error reports, single-item updates, and the live
// SID snapshot the decoder constrains generation with: a constraint trie over
// every item that has an SID, per-item availability that follows stock and
// deletions, and Bleve queries turned into sets of trie ordinals.
//
// Durability: an on-disk catalog (Open) is a scorch index opened with
// unsafe_batch=false, so every write (Put, SetStock, Delete, each Import
// batch) returns only after its segment file and the index root have been
// written and fsynced. A write that returned survives a crash; a write that
// was in flight may be lost, never half applied (batches are atomic); an
// interrupted Import keeps the batches written before. The SID snapshot is
// not stored: it lives in memory and is rebuilt from the index on first
// use after Open. An in-memory catalog (OpenMem) keeps nothing across Close.
package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/neo-search/neo/sid"
)

// Errors returned by Catalog methods.
var (
	ErrNotFound     = errors.New("item not found")
	ErrDuplicateSID = errors.New("sid already used by another item")
)

// Catalog is the item catalog: a Bleve index plus the live SID snapshot.
// All methods are safe for concurrent use. Writes are serialised; reads
// (Get, searches through Bleve, Snapshot) run concurrently with them.
type Catalog struct {
	idx bleve.Index

	// mu serialises writes and every change of the snapshot and delta.
	mu      sync.Mutex
	closed  bool
	snap    atomic.Pointer[Snapshot]
	delta   []deltaEntry   // the current snapshot's delta items
	deltaAt map[string]int // id → index in delta
	// touched collects the ids written while a rebuild reads the catalog;
	// nil when no rebuild runs.
	touched map[string]struct{}

	// attrKeys are the catalog's attribute keys (fields of the index),
	// read from the index on first use and grown by writes; under mu.
	attrKeys map[string]struct{}

	maxDelta  int        // MaxDelta; lowered by tests
	rebuildMu sync.Mutex // one rebuild at a time
	bgRunning atomic.Bool
	bg        sync.WaitGroup
}

// Open opens the catalog index in dir, creating it when dir does not exist
// or is empty.
func Open(dir string) (*Catalog, error) {
	// unsafe_batch=false makes scorch wait for the persister, so writes are
	// on disk when they return (see the package documentation).
	cfg := map[string]any{"unsafe_batch": false}
	idx, err := bleve.OpenUsing(dir, cfg)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) || errors.Is(err, bleve.ErrorIndexMetaMissing) && emptyDir(dir) {
		idx, err = bleve.NewUsing(dir, NewMapping(), scorch.Name, scorch.Name, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", dir, err)
	}
	return newCatalog(idx), nil
}

func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 0
}

// OpenMem returns an empty in-memory catalog (a scorch index without a
// path), for tests and throw-away use.
func OpenMem() (*Catalog, error) {
	idx, err := bleve.NewUsing("", NewMapping(), scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("index: open in-memory index: %w", err)
	}
	return newCatalog(idx), nil
}

func newCatalog(idx bleve.Index) *Catalog {
	return &Catalog{idx: idx, deltaAt: map[string]int{}, maxDelta: MaxDelta}
}

// Close waits for a background rebuild to finish and closes the index.
func (c *Catalog) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bg.Wait()
	return c.idx.Close()
}

// Bleve returns the underlying index, for searches. Write through the
// Catalog, not through it, or the snapshot will not follow.
func (c *Catalog) Bleve() bleve.Index { return c.idx }

// Count returns the number of items.
func (c *Catalog) Count() (uint64, error) { return c.idx.DocCount() }

// Get returns the item with the given id; ok is false when there is none.
func (c *Catalog) Get(id string) (it Item, ok bool, err error) {
	req := bleve.NewSearchRequestOptions(query.NewDocIDQuery([]string{id}), 1, 0, false)
	req.Fields = []string{FieldSource}
	req.Score = "none"
	res, err := c.idx.Search(req)
	if err != nil {
		return Item{}, false, fmt.Errorf("index: get %q: %w", id, err)
	}
	if len(res.Hits) == 0 {
		return Item{}, false, nil
	}
	it, err = decodeSource(id, res.Hits[0].Fields)
	return it, err == nil, err
}

// GetMany returns the items with the given ids that exist, by id, in one
// index search (serving resolves a whole ranked list at once).
func (c *Catalog) GetMany(ids []string) (map[string]Item, error) {
	out := make(map[string]Item, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	req := bleve.NewSearchRequestOptions(query.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = []string{FieldSource}
	req.Score = "none"
	res, err := c.idx.Search(req)
	if err != nil {
		return nil, fmt.Errorf("index: get %d items: %w", len(ids), err)
	}
	for _, h := range res.Hits {
		it, err := decodeSource(h.ID, h.Fields)
		if err != nil {
			return nil, err
		}
		out[h.ID] = it
	}
	return out, nil
}

func decodeSource(id string, fields map[string]any) (Item, error) {
	var it Item
	src, ok := fields[FieldSource].(string)
	if !ok {
		return it, fmt.Errorf("index: item %q has no stored source", id)
	}
	if err := json.Unmarshal([]byte(src), &it); err != nil {
		return it, fmt.Errorf("index: item %q: stored source: %w", id, err)
	}
	return it, nil
}

// Items returns every item, sorted by id.
func (c *Catalog) Items() ([]Item, error) {
	var out []Item
	err := c.scan(context.Background(), query.NewMatchAllQuery(), []string{FieldSource}, func(id string, fields map[string]any) error {
		it, err := decodeSource(id, fields)
		out = append(out, it)
		return err
	})
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// Put inserts or replaces an item. The item is validated and normalised as
// ParseItem does. Its SID, if any, must not belong to another item
// (ErrDuplicateSID) and must have as many codes as the catalog's other SIDs.
func (c *Catalog) Put(it Item) error {
	if err := it.normalize(); err != nil {
		return fmt.Errorf("index: %w: %w", ErrInvalidItem, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.admitAttributes(&it); err != nil {
		return err
	}
	if it.SID != "" {
		if w := c.width(c.snap.Load()); w > 0 {
			if x, _ := sid.Parse(it.SID); len(x.Codes)+1 != w {
				return fmt.Errorf("index: %w: sid %s has %d codes, the catalog's SIDs have %d (import the catalog to change the SID scheme)",
					ErrInvalidItem, it.SID, len(x.Codes), w-1)
			}
		}
		owners, err := c.sidOwners([]string{it.SID})
		if err != nil {
			return err
		}
		if o := owners[it.SID]; o != "" && o != it.ID {
			return fmt.Errorf("index: item %q: %w: %s is item %q's", it.ID, ErrDuplicateSID, it.SID, o)
		}
	}
	doc, err := document(&it)
	if err != nil {
		return err
	}
	if err := c.idx.Index(it.ID, doc); err != nil {
		return fmt.Errorf("index: put %q: %w", it.ID, err)
	}
	return c.afterWrite(it.ID, &it)
}

// PutMany writes items as Put does, in one index batch: one durable
// write for all, so a bulk load is not one fsync per item. Each item gets
// its own error (nil: written): an invalid item, an SID another item holds
// (in the index, unless that item moves off it in this batch, or earlier
// in the batch) or one of the wrong width fails alone. A repeated id is
// written as its last occurrence, as consecutive Puts would leave it.
func (c *Catalog) PutMany(items []Item) []error {
	errs := make([]error, len(items))
	for i := range items {
		if err := items[i].normalize(); err != nil {
			errs[i] = fmt.Errorf("index: %w: %w", ErrInvalidItem, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.width(c.snap.Load())
	var keys []string
	last := map[string]int{} // id → its last line in the batch
	for i := range items {
		if errs[i] != nil {
			continue
		}
		if errs[i] = c.admitAttributes(&items[i]); errs[i] != nil {
			continue
		}
		last[items[i].ID] = i
		if k := items[i].SID; k != "" {
			if x, _ := sid.Parse(k); w > 0 && len(x.Codes)+1 != w {
				errs[i] = fmt.Errorf("index: %w: sid %s has %d codes, the catalog's SIDs have %d (import the catalog to change the SID scheme)",
					ErrInvalidItem, k, len(x.Codes), w-1)
				continue
			}
			keys = append(keys, k)
		}
	}
	owners, err := c.sidOwners(keys)
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	claimed := map[string]string{} // SID → the batch item that takes it
	for i := range items {
		it := &items[i]
		if errs[i] != nil || last[it.ID] != i || it.SID == "" {
			continue
		}
		if o, ok := claimed[it.SID]; ok && o != it.ID {
			errs[i] = fmt.Errorf("index: item %q: %w: %s is item %q's", it.ID, ErrDuplicateSID, it.SID, o)
			continue
		}
		if o := owners[it.SID]; o != "" && o != it.ID {
			// the owner keeps it unless its own last line here moves it off
			if j, moving := last[o]; !moving || items[j].SID == it.SID || errs[j] != nil {
				errs[i] = fmt.Errorf("index: item %q: %w: %s is item %q's", it.ID, ErrDuplicateSID, it.SID, o)
				continue
			}
		}
		claimed[it.SID] = it.ID
	}
	b := c.idx.NewBatch()
	var wrote []int
	for i := range items {
		if errs[i] != nil {
			continue
		}
		if last[items[i].ID] != i {
			wrote = append(wrote, i) // superseded by a later line: reported as written
			continue
		}
		doc, err := document(&items[i])
		if err != nil {
			errs[i] = err
			continue
		}
		if err := b.Index(items[i].ID, doc); err != nil {
			errs[i] = fmt.Errorf("index: put %q: %w", items[i].ID, err)
			continue
		}
		wrote = append(wrote, i)
	}
	if b.Size() > 0 {
		if err := c.idx.Batch(b); err != nil {
			for _, i := range wrote {
				errs[i] = fmt.Errorf("index: put %q: %w", items[i].ID, err)
			}
			return errs
		}
	}
	var ids []string
	var its []*Item
	var at []int
	for _, i := range wrote {
		if last[items[i].ID] == i {
			ids, its, at = append(ids, items[i].ID), append(its, &items[i]), append(at, i)
		}
	}
	if err := c.afterWrites(ids, its); err != nil {
		for _, i := range at {
			errs[i] = err
		}
	}
	return errs
}

// SetStock sets an item's in_stock flag; the item's availability in the
// snapshot follows.
func (c *Catalog) SetStock(id string, inStock bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok, err := c.Get(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("index: set stock of %q: %w", id, ErrNotFound)
	}
	if it.InStock != inStock {
		it.InStock = inStock
		doc, err := document(&it)
		if err != nil {
			return err
		}
		if err := c.idx.Index(id, doc); err != nil {
			return fmt.Errorf("index: set stock of %q: %w", id, err)
		}
	}
	return c.afterWrite(id, &it)
}

// Delete removes an item; it becomes unavailable in the snapshot.
func (c *Catalog) Delete(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	doc, err := c.idx.Document(id)
	if err != nil {
		return err
	}
	if doc == nil {
		return fmt.Errorf("index: delete %q: %w", id, ErrNotFound)
	}
	if err := c.idx.Delete(id); err != nil {
		return fmt.Errorf("index: delete %q: %w", id, err)
	}
	return c.afterWrite(id, nil)
}

// sidOwners returns, for each SID key that some item in the index has, the
// id of that item.
func (c *Catalog) sidOwners(keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	qs := make([]query.Query, len(keys))
	for i, k := range keys {
		t := query.NewTermQuery(k)
		t.SetField(FieldSID)
		qs[i] = t
	}
	err := c.scan(context.Background(), query.NewDisjunctionQuery(qs), []string{FieldSID}, func(id string, fields map[string]any) error {
		if k, ok := fields[FieldSID].(string); ok {
			out[k] = id
		}
		return nil
	})
	return out, err
}

// afterWrite brings the snapshot up to date after id was written (it is
// the item now in the index, nil when deleted). c.mu must be held.
func (c *Catalog) afterWrite(id string, it *Item) error {
	return c.afterWrites([]string{id}, []*Item{it})
}

// afterWrites is afterWrite for several writes at once: one delta trie
// for all of them. c.mu must be held.
func (c *Catalog) afterWrites(ids []string, its []*Item) error {
	for _, id := range ids {
		if c.touched != nil {
			c.touched[id] = struct{}{}
		}
	}
	s := c.snap.Load()
	if s == nil { // no snapshot yet: the first Snapshot call reads everything
		return nil
	}
	changed := false
	for i, id := range ids {
		if c.apply(s, id, its[i]) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	ns, err := c.withDelta(s)
	if err != nil {
		return fmt.Errorf("index: %d items are stored but the snapshot could not follow: %w", len(ids), err)
	}
	c.snap.Store(ns)
	if len(c.delta) > c.maxDelta {
		c.rebuildInBackground()
	}
	return nil
}

// rebuildInBackground starts a rebuild unless one is running. c.mu must
// be held.
func (c *Catalog) rebuildInBackground() {
	if c.closed || !c.bgRunning.CompareAndSwap(false, true) {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer c.bgRunning.Store(false)
		if err := c.Rebuild(); err != nil {
			slog.Error("index: background snapshot rebuild failed", "err", err)
		}
	}()
}

// MaxCatalogAttributes bounds the distinct attribute keys of a catalog.
// Each key is a field of the index mapping, listed by every answer that
// lists fields and kept by the index for good; MaxAttributes bounds one
// item's keys, this bounds what many items add together.
const MaxCatalogAttributes = 1024

// admitAttributes checks that it adds no attribute key past
// MaxCatalogAttributes and records its keys. c.mu must be held.
func (c *Catalog) admitAttributes(it *Item) error {
	if len(it.Attributes) == 0 {
		return nil
	}
	if c.attrKeys == nil {
		c.attrKeys = map[string]struct{}{}
		if fields, err := c.idx.Fields(); err == nil {
			for _, f := range fields {
				if k, ok := strings.CutPrefix(f, FieldAttributes+"."); ok {
					c.attrKeys[k] = struct{}{}
				}
			}
		}
	}
	added := 0
	for k := range it.Attributes {
		if _, ok := c.attrKeys[k]; !ok {
			added++
		}
	}
	if added > 0 && len(c.attrKeys)+added > MaxCatalogAttributes {
		return fmt.Errorf("index: item %q: %w: field \"attributes\": %d new keys, and the catalog has %d of at most %d (reuse existing attribute keys)",
			it.ID, ErrInvalidItem, added, len(c.attrKeys), MaxCatalogAttributes)
	}
	for k := range it.Attributes {
		c.attrKeys[k] = struct{}{}
	}
	return nil
}
