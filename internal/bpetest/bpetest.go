// Package bpetest is the textbook byte-level BPE trainer that the tests of
// the exporter (which trains tokenizers fast) and of sid (which loads them)
// check against. It is slow on purpose: it recounts every pair before each
// merge, so it is easy to read and hard to get wrong.
package bpetest

// Train learns a vocabulary and merges from pre-token counts. The
// vocabulary starts with specials, then the 256 byte tokens (named by
// byteToken); each merge takes the most frequent adjacent pair, ties to the
// smaller (left id, right id), until vocabSize tokens or no pair occurs
// minFreq times.
func Train(counts map[string]int, vocabSize, minFreq int, specials []string, byteToken func(byte) string) ([]string, [][2]string) {
	vocab := append([]string(nil), specials...)
	ids := map[string]int32{}
	base := int32(len(vocab))
	for b := 0; b < 256; b++ {
		ids[byteToken(byte(b))] = int32(len(vocab))
		vocab = append(vocab, byteToken(byte(b)))
	}
	type word struct {
		syms  []int32
		count int
	}
	var words []word
	for k, c := range counts {
		w := word{count: c}
		for i := 0; i < len(k); i++ {
			w.syms = append(w.syms, base+int32(k[i]))
		}
		words = append(words, w)
	}
	pairKey := func(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }
	var merges [][2]string
	for len(vocab) < vocabSize {
		pairs := map[uint64]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[pairKey(w.syms[i], w.syms[i+1])] += w.count
			}
		}
		best, bc := uint64(0), 0
		for p, c := range pairs {
			if c > bc || c == bc && p < best {
				best, bc = p, c
			}
		}
		if bc == 0 || bc < minFreq {
			break
		}
		a, b := int32(best>>32), int32(uint32(best))
		tok := vocab[a] + vocab[b]
		nid, ok := ids[tok]
		if !ok {
			nid = int32(len(vocab))
			ids[tok] = nid
			vocab = append(vocab, tok)
		}
		merges = append(merges, [2]string{vocab[a], vocab[b]})
		for wi := range words {
			s := words[wi].syms
			for i := 0; i+1 < len(s); i++ {
				if s[i] == a && s[i+1] == b {
					s[i] = nid
					s = append(s[:i+1], s[i+2:]...)
				}
			}
			words[wi].syms = s
		}
	}
	return vocab, merges
}
