package exporter

import (
	"container/heap"
	"context"
	"fmt"
	"sort"

	"github.com/neo-search/neo/sid"
)

// MinVocabSize is the smallest BPE vocabulary: <|pad|>, <|unk|> and the 256
// byte tokens.
const MinVocabSize = 2 + 256

// wordCounter counts pre-tokens of training text.
type wordCounter map[string]int

func (wc wordCounter) add(text string) {
	sid.PreTokenize(text, func(p string) { wc[p]++ })
}

// trainBPE learns a byte-level BPE vocabulary of at most vocabSize tokens
// from pre-token counts.
//
// sugarme's BpeTrainer is not used: it breaks ties between equally frequent
// pairs by heap and map iteration order and time stamps (three runs on the
// same text give three vocabularies), drops the special tokens it is given,
// miscounts pairs once there are more than 10k distinct words, and its
// Tokenizer.Train log.Fatals on file errors. This trainer follows the Hugging
// Face algorithm (most frequent pair first, new pairs counted incrementally)
// with a total order on ties (count, then left id, then right id), so the
// vocabulary depends only on the counts.
func trainBPE(ctx context.Context, wc wordCounter, vocabSize, minFreq int, progress func(done int)) (vocab []string, merges [][2]string, err error) {
	if vocabSize < MinVocabSize {
		return nil, nil, fmt.Errorf("exporter: vocabulary size %d is below the minimum %d (specials and the 256 byte tokens)", vocabSize, MinVocabSize)
	}
	if minFreq < 1 {
		minFreq = 1
	}
	vocab = make([]string, 0, vocabSize)
	vocab = append(vocab, sid.TokenPad, sid.TokenUnk)
	ids := make(map[string]int32, vocabSize)
	for b := 0; b < 256; b++ {
		s := sid.ByteToken(byte(b))
		ids[s] = int32(len(vocab))
		vocab = append(vocab, s)
	}
	ids[sid.TokenPad], ids[sid.TokenUnk] = 0, 1

	// Words in sorted order so that word indices are deterministic.
	keys := make([]string, 0, len(wc))
	for k := range wc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([][]int32, len(keys))
	counts := make([]int, len(keys))
	pairCount := make(map[uint64]int)
	where := make(map[uint64][]int32)
	for wi, k := range keys {
		w := make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			w[i] = int32(2 + int(k[i]))
		}
		words[wi], counts[wi] = w, wc[k]
		for i := 0; i+1 < len(w); i++ {
			p := pairKey(w[i], w[i+1])
			pairCount[p] += counts[wi]
			if l := where[p]; len(l) == 0 || l[len(l)-1] != int32(wi) {
				where[p] = append(where[p], int32(wi))
			}
		}
	}
	q := &pairHeap{}
	for p, c := range pairCount {
		q.items = append(q.items, pairItem{pair: p, count: c})
	}
	heap.Init(q)

	for len(vocab) < vocabSize && q.Len() > 0 {
		if len(merges)%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if progress != nil {
				progress(len(vocab))
			}
		}
		top := heap.Pop(q).(pairItem)
		cur := pairCount[top.pair]
		if cur != top.count {
			if cur > 0 {
				heap.Push(q, pairItem{pair: top.pair, count: cur})
			}
			continue
		}
		if cur < minFreq {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		tok := vocab[a] + vocab[b]
		newID, ok := ids[tok]
		if !ok {
			newID = int32(len(vocab))
			ids[tok] = newID
			vocab = append(vocab, tok)
		}
		merges = append(merges, [2]string{vocab[a], vocab[b]})

		// Pairs that gained occurrences (all contain newID) go back on the
		// heap afterwards; pairs that lost some are fixed lazily on pop.
		var touched []uint64
		gained := make(map[uint64]bool)
		touch := func(p uint64, wi int32, delta int) {
			pairCount[p] += delta
			if delta < 0 {
				return
			}
			if !gained[p] {
				gained[p] = true
				touched = append(touched, p)
			}
			if l := where[p]; len(l) == 0 || l[len(l)-1] != wi {
				where[p] = append(where[p], wi)
			}
		}
		wl := where[top.pair]
		sort.Slice(wl, func(i, j int) bool { return wl[i] < wl[j] })
		last := int32(-1)
		for _, wi := range wl {
			if wi == last {
				continue
			}
			last = wi
			w, c := words[wi], counts[wi]
			for i := 0; i+1 < len(w); i++ {
				if w[i] != a || w[i+1] != b {
					continue
				}
				touch(top.pair, wi, -c)
				if i > 0 {
					touch(pairKey(w[i-1], a), wi, -c)
					touch(pairKey(w[i-1], newID), wi, c)
				}
				if i+2 < len(w) {
					touch(pairKey(b, w[i+2]), wi, -c)
					touch(pairKey(newID, w[i+2]), wi, c)
				}
				w[i] = newID
				w = append(w[:i+1], w[i+2:]...)
			}
			words[wi] = w
		}
		delete(pairCount, top.pair)
		delete(where, top.pair)
		for _, p := range touched {
			if c := pairCount[p]; c > 0 {
				heap.Push(q, pairItem{pair: p, count: c})
			}
		}
	}
	if progress != nil {
		progress(len(vocab))
	}
	return vocab, merges, nil
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

type pairItem struct {
	pair  uint64
	count int
}

// pairHeap pops the most frequent pair; ties go to the smaller (left, right)
// id pair, so the order is total and training is deterministic.
type pairHeap struct{ items []pairItem }

func (h *pairHeap) Len() int { return len(h.items) }
func (h *pairHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.count != b.count {
		return a.count > b.count
	}
	return a.pair < b.pair
}
func (h *pairHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *pairHeap) Push(x any)    { h.items = append(h.items, x.(pairItem)) }
func (h *pairHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}
