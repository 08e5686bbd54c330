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
	cat   *index.Catalog
	q     *sid.Quantizer
	vocab *sid.Vocab // the SIDs the model can write (nil: any)
}

// NewCoder reads the quantizer of the catalog in dir. Without one (a
// catalog never given SIDs by neo sids) it returns nil and no error: items
// then stay without an SID until the next assignment. vocab is the SID
// vocabulary of the model that serves the catalog (neo.json's "sid"): the
// coder gives only SIDs it can write, of its types and within its codes
// per level (nil: any).
func NewCoder(cat *index.Catalog, dir string, vocab *sid.Vocab) (*Coder, error) {
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
	return &Coder{cat: cat, q: &q, vocab: vocab}, nil
}

// ErrCannotCode is the error of Put for an item the quantizer cannot
// place (an unknown type, a missing embedding) or whose collision codes
// are all taken: the caller may write it without an SID instead.
var ErrCannotCode = errors.New("assign: cannot give the item an SID")

// maxTries bounds the SIDs tried for one item: a crowded catalog is a
// sign to re-run neo sids, not to scan on.
const maxTries = 1024

// Put writes it with an SID: its codes under the quantizer and the first
// collision code no other item holds. When that leaf is full (a model with
// few collision codes), it tries the other codes of the last semantic
// level, in code order from its own, then the other codes of the level
// above with every last-level code, and so on up to the first level: the
// codebooks of residual quantization are shared by all parents, so the
// deeper codes keep their meaning, and the item stays in its type and in
// the nearest group that has room. Every SID tried is within the model's
// codebooks (vocab), so the model can write it. It returns the SID key.
// An item of a type the quantizer does not know, or with no free SID
// within maxTries, is ErrCannotCode (write it with an explicit SID, or
// re-run neo sids).
func (c *Coder) Put(it index.Item) (string, error) {
	typ, codes, err := c.q.Codes(sid.AssignItem{ID: it.ID, Type: it.Type, Text: ItemText(it), Embedding: it.Embedding})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCannotCode, err)
	}
	if len(codes) == 0 {
		return "", fmt.Errorf("%w: no semantic codes", ErrCannotCode)
	}
	if c.vocab != nil && c.vocab.TypeIndex(typ) < 0 {
		return "", fmt.Errorf("%w: the model has no type %q", ErrCannotCode, typ)
	}
	// radix[l] is how many codes level l may take; the collision level last
	radix := make([]int, len(codes)+1)
	tq := c.q.Types[typ]
	for l := range codes {
		radix[l] = codes[l] + 1
		if tq != nil && l < len(tq.K) {
			radix[l] = max(tq.K[l], radix[l])
		}
	}
	radix[len(codes)] = maxTries
	if c.vocab != nil {
		if len(c.vocab.CodeCount) != len(radix) {
			return "", fmt.Errorf("%w: the model's SIDs have %d codes, the quantizer's %d", ErrCannotCode, len(c.vocab.CodeCount), len(radix))
		}
		for l := range radix {
			radix[l] = min(radix[l], c.vocab.CodeCount[l])
		}
	}
	// off is an odometer over the levels, the collision level turning
	// fastest: SID = (codes[l] + off[l]) mod radix[l] per semantic level
	off := make([]int, len(radix))
	// The snapshot (updated by every write) tells a taken SID without a
	// write attempt, so a crowded group costs lookups, not index searches;
	// an SID it still holds for a deleted item is skipped too.
	snap := c.cat.Snapshot()
	for try := 0; try < maxTries; try++ {
		s := sid.SID{Type: typ, Codes: make([]int, len(radix))}
		for l := range codes {
			s.Codes[l] = (codes[l] + off[l]) % radix[l]
		}
		s.Codes[len(codes)] = off[len(codes)]
		if _, taken := snap.Lookup(s); !taken {
			it.SID = s.Key()
			err := c.cat.Put(it)
			if err == nil {
				return it.SID, nil
			}
			if !errors.Is(err, index.ErrDuplicateSID) { // taken, perhaps by a concurrent write: Put checks under the catalog's lock
				return "", err
			}
			snap = c.cat.Snapshot()
		}
		l := len(off) - 1
		for ; l >= 0; l-- {
			if off[l]++; off[l] < radix[l] {
				break
			}
			off[l] = 0
		}
		if l < 0 {
			break // every SID within the codebooks is taken
		}
	}
	return "", fmt.Errorf("%w: no free SID near %s within %d tries (re-run neo sids)", ErrCannotCode, sid.SID{Type: typ, Codes: codes}.Key(), maxTries)
}

// NewOnlyReport is what NewOnly did.
type NewOnlyReport struct {
	Coded   int      `json:"coded"`   // items given an SID
	Uncoded []string `json:"uncoded"` // items the quantizer could not place (ErrCannotCode)
	Kept    int      `json:"kept"`    // items that already had an SID, unchanged
}

// NewOnly gives every item of the catalog in dir that has no SID one, as
// a PUT without an SID does (Coder.Put, bounded by the model's vocabulary), and leaves
// every other item's SID as it is: `neo sids --new-only`, for items
// imported without SIDs after the assignment. It needs the quantizer
// saved by an earlier Run. modelDir, when not "", is the model whose
// codebook bounds the new codes.
func NewOnly(dir, modelDir string) (_ *NewOnlyReport, err error) {
	var vocab *sid.Vocab
	if modelDir != "" {
		m, err := sid.LoadModelMeta(modelDir)
		if err != nil {
			return nil, err
		}
		vocab = m.SID
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
	c, err := NewCoder(cat, dir, vocab)
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
