package assign

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

// Coder gives an item written without an SID one at once, with the
// quantizer the catalog's SIDs were assigned with (saved beside it by
// Run): its semantic codes are the nearest centroids of its text, its
// collision code the first free one. So a new item is searchable,
// recommendable and usable as history as soon as its write returns.
type Coder struct {
	cat    *index.Catalog
	q      *sid.Quantizer
	limits []int // codes per level the model can write, collision last (nil: any)
}

// NewCoder reads the quantizer of the catalog in dir. Without one (a
// catalog never given SIDs by neo sids) it returns nil and no error: items
// then stay without an SID until the next assignment. limits are the codes
// per level the model can write, the collision level last (its
// vocabulary's CodeCount; nil: unbounded).
func NewCoder(cat *index.Catalog, dir string, limits []int) (*Coder, error) {
	b, err := os.ReadFile(QuantizerPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var q sid.Quantizer
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("%s: %w", QuantizerPath(dir), err)
	}
	return &Coder{cat: cat, q: &q, limits: limits}, nil
}

// ErrCannotCode is the error of Put for an item the quantizer cannot
// place (an unknown type, a missing embedding) or whose collision codes
// are all taken: the caller may write it without an SID instead.
var ErrCannotCode = errors.New("assign: cannot give the item an SID")

// maxTries bounds the collision codes tried when the model's codebook
// does not (a crowded leaf is a sign to re-run neo sids, not to scan on).
const maxTries = 1024

// Put writes it with an SID: its codes under the quantizer and the first
// collision code no other item holds; when its leaf is full (a model with
// few collision codes), the nearest free sibling at the last semantic
// level, trying them in code order from its own, keeps it in its
// semantic group. It returns the SID key. An item of a type the quantizer
// does not know, or with no free code in its group, is ErrCannotCode
// (write it with an explicit SID, or re-run neo sids).
func (c *Coder) Put(it index.Item) (string, error) {
	typ, codes, err := c.q.Codes(sid.AssignItem{ID: it.ID, Type: it.Type, Text: ItemText(it), Embedding: it.Embedding})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCannotCode, err)
	}
	if len(codes) == 0 {
		return "", fmt.Errorf("%w: no semantic codes", ErrCannotCode)
	}
	last := len(codes) - 1
	colls, siblings := maxTries, 1
	if tq := c.q.Types[typ]; tq != nil && last < len(tq.K) {
		siblings = max(tq.K[last], 1)
	}
	if len(c.limits) == len(codes)+1 { // the model's codebooks bound both
		colls = min(colls, c.limits[len(codes)])
		siblings = min(siblings, c.limits[last])
	}
	for d := 0; d < siblings; d++ {
		cs := append([]int(nil), codes...)
		cs[last] = (codes[last] + d) % siblings
		for coll := 0; coll < colls; coll++ {
			it.SID = sid.SID{Type: typ, Codes: append(cs, coll)}.Key()
			err := c.cat.Put(it)
			if errors.Is(err, index.ErrDuplicateSID) {
				continue // taken, perhaps by a concurrent write: Put checks under the catalog's lock
			}
			if err != nil {
				return "", err
			}
			return it.SID, nil
		}
	}
	return "", fmt.Errorf("%w: every code under %s is taken (re-run neo sids)", ErrCannotCode, sid.SID{Type: typ, Codes: codes[:last]}.Key())
}

// NewOnlyReport is what NewOnly did.
type NewOnlyReport struct {
	Coded   int      `json:"coded"`   // items given an SID
	Uncoded []string `json:"uncoded"` // items the quantizer could not place (ErrCannotCode)
	Kept    int      `json:"kept"`    // items that already had an SID, unchanged
}

// NewOnly gives every item of the catalog in dir that has no SID one, as
// a PUT without an SID does (Coder.Put, bounded by limits), and leaves
// every other item's SID as it is: `neo sids --new-only`, for items
// imported without SIDs after the assignment. It needs the quantizer
// saved by an earlier Run. modelDir, when not "", is the model whose
// codebook bounds the new codes.
func NewOnly(dir, modelDir string) (_ *NewOnlyReport, err error) {
	var limits []int
	if modelDir != "" {
		m, err := sid.LoadModelMeta(modelDir)
		if err != nil {
			return nil, err
		}
		limits = m.SID.CodeCount
	}
	cat, err := index.Open(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := cat.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	c, err := NewCoder(cat, dir, limits)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("no quantizer at %s: run neo sids (without --new-only) first", QuantizerPath(dir))
	}
	items, err := cat.Items()
	if err != nil {
		return nil, err
	}
	rep := &NewOnlyReport{Uncoded: []string{}}
	for _, it := range items {
		if it.SID != "" {
			rep.Kept++
			continue
		}
		_, err := c.Put(it)
		switch {
		case errors.Is(err, ErrCannotCode):
			rep.Uncoded = append(rep.Uncoded, it.ID)
		case err != nil:
			return nil, fmt.Errorf("item %s: %w", it.ID, err)
		default:
			rep.Coded++
		}
	}
	return rep, nil
}
