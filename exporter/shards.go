package exporter

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"

	"github.com/neo-search/neo/sid"
)

// shardWriter appends sequences to the three files of one stage.
type shardWriter struct {
	files            [3]*os.File
	ids, mask, offs  *bufio.Writer
	paths            [3]string
	n, tokens, lossN int64
	buf              []byte
}

func newShardWriter(dir, stage string) (*shardWriter, error) {
	w := &shardWriter{}
	for i, ext := range []string{".ids.bin", ".mask.bin", ".offsets.bin"} {
		w.paths[i] = filepath.Join(dir, stage+ext)
		f, err := os.Create(w.paths[i] + ".tmp")
		if err != nil {
			w.abort()
			return nil, fmt.Errorf("exporter: %w", err)
		}
		w.files[i] = f
	}
	w.ids = bufio.NewWriterSize(w.files[0], 1<<20)
	w.mask = bufio.NewWriterSize(w.files[1], 1<<18)
	w.offs = bufio.NewWriterSize(w.files[2], 1<<16)
	w.writeOffset(0)
	return w, nil
}

func (w *shardWriter) writeOffset(o int64) {
	w.offs.Write(binary.LittleEndian.AppendUint64(w.buf[:0], uint64(o)))
}

func (w *shardWriter) add(ids []int32, mask []uint8) {
	w.buf = w.buf[:0]
	for _, id := range ids {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(id))
	}
	w.ids.Write(w.buf)
	w.mask.Write(mask)
	for _, m := range mask {
		w.lossN += int64(m)
	}
	w.n++
	w.tokens += int64(len(ids))
	w.writeOffset(w.tokens)
}

// close flushes and moves the files into place.
func (w *shardWriter) close() error {
	var err error
	for i, bw := range []*bufio.Writer{w.ids, w.mask, w.offs} {
		if e := bw.Flush(); e != nil && err == nil {
			err = e
		}
		if e := w.files[i].Close(); e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		w.abort()
		return fmt.Errorf("exporter: %w", err)
	}
	for _, p := range w.paths {
		if err := os.Rename(p+".tmp", p); err != nil {
			return fmt.Errorf("exporter: %w", err)
		}
	}
	return nil
}

func (w *shardWriter) abort() {
	for i, f := range w.files {
		if f != nil {
			f.Close()
			os.Remove(w.paths[i] + ".tmp")
		}
	}
}

// writeStage encodes the samples of one stage into its shards.
func (b *builder) writeStage(ctx context.Context, stage string, samples []*sample, bar *progressbar.ProgressBar) (StageStats, error) {
	w, err := newShardWriter(filepath.Join(b.opt.OutDir, "shards"), stage)
	if err != nil {
		return StageStats{}, err
	}
	for i, s := range samples {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				w.abort()
				return StageStats{}, err
			}
			if bar != nil {
				_ = bar.Add(min(256, len(samples)-i))
			}
		}
		ids, mask, fate, err := b.encode(s)
		if err != nil {
			w.abort()
			return StageStats{}, err
		}
		switch fate {
		case fateDropped:
			b.rep.Dropped[stage]++
			continue
		case fateTruncated:
			b.rep.Truncated[stage]++
		}
		w.add(ids, mask)
	}
	if err := w.close(); err != nil {
		return StageStats{}, err
	}
	return StageStats{Sequences: w.n, Tokens: w.tokens, LossTokens: w.lossN}, nil
}

type fate uint8

const (
	fateWhole fate = iota
	fateTruncated
	fateDropped
)

// encode tokenizes a sample and fits it into MaxSeq. The rules, in order:
//  1. warmup text (loss on all tokens) is cut at MaxSeq, losing its tail
//     and <|eos|>;
//  2. otherwise the completion is never cut: first the oldest history
//     items are dropped (at least one stays);
//  3. then the sample's clippable text value (query, context or title) is
//     shortened to the longest rune prefix that fits (at least one rune);
//  4. a sample that still does not fit is dropped.
func (b *builder) encode(s *sample) ([]int32, []uint8, fate, error) {
	if s.loss == lossSequence {
		return b.encodeSequence(s)
	}
	max := b.opt.MaxSeq
	answer := append(append([]sid.Segment(nil), s.answer...), sid.Segment{Special: sid.TokenEOS})
	aids, err := b.meta.Encode(answer, b.encodeText)
	if err != nil {
		return nil, nil, 0, err
	}
	hist, text := s.hist, s.text
	pids, err := b.encodePrompt(s, hist, text)
	if err != nil {
		return nil, nil, 0, err
	}
	f := fateWhole
	if s.loss == lossAll {
		ids := append(pids, aids...)
		if len(ids) > max {
			ids, f = ids[:max], fateTruncated
		}
		mask := make([]uint8, len(ids))
		for i := 1; i < len(mask); i++ {
			mask[i] = 1
		}
		return ids, mask, f, nil
	}
	if over := len(pids) + len(aids) - max; over > 0 && len(hist) > 1 {
		span := b.meta.SID.Levels() + 3
		drop := min((over+span-1)/span, len(hist)-1)
		hist = hist[drop:]
		if pids, err = b.encodePrompt(s, hist, text); err != nil {
			return nil, nil, 0, err
		}
		f = fateTruncated
	}
	if len(pids)+len(aids) > max && s.clip != "" && text[s.clip] != "" {
		full := text[s.clip]
		text = copyText(text)
		fits := func(n int) ([]int32, bool, error) {
			text[s.clip] = prefixRunes(full, n)
			p, err := b.encodePrompt(s, hist, text)
			return p, err == nil && len(p)+len(aids) <= max, err
		}
		lo, hi := 0, utf8.RuneCountInString(full) // lo fits (or is 0), hi does not
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			_, ok, err := fits(mid)
			if err != nil {
				return nil, nil, 0, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		if lo >= 1 {
			p, ok, err := fits(lo)
			if err != nil {
				return nil, nil, 0, err
			}
			if ok {
				pids, f = p, fateTruncated
			}
		}
	}
	if len(pids)+len(aids) > max {
		return nil, nil, fateDropped, nil
	}
	ids := append(pids, aids...)
	mask := make([]uint8, len(ids))
	for i := len(pids); i < len(ids); i++ {
		switch s.loss {
		case lossAnswer:
			mask[i] = 1
		case lossAnswerSIDs:
			if b.meta.SID.IsSIDToken(ids[i]) {
				mask[i] = 1
			}
		}
	}
	return ids, mask, f, nil
}

func (b *builder) encodePrompt(s *sample, hist []sid.SID, text map[string]string) ([]int32, error) {
	segs, err := s.prompt(hist, text)
	if err != nil {
		return nil, err
	}
	return b.meta.Encode(segs, b.encodeText)
}

func copyText(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// prefixRunes returns the first n runes of s.
func prefixRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// encodeSequence tokenizes a sequence sample (lossSequence): the prompt
// alone, the loss on the type and code tokens of history spans lossFrom and
// later. Too long, it drops the oldest history items (the loss then starts
// at the second span at the earliest); with no target left it is dropped.
func (b *builder) encodeSequence(s *sample) ([]int32, []uint8, fate, error) {
	hist, from, f := s.hist, s.lossFrom, fateWhole
	ids, err := b.encodePrompt(s, hist, s.text)
	if err != nil {
		return nil, nil, 0, err
	}
	if over := len(ids) - b.opt.MaxSeq; over > 0 && len(hist) > 1 {
		span := b.meta.SID.Levels() + 3
		drop := min((over+span-1)/span, len(hist)-1)
		hist, from = hist[drop:], max(1, from-drop)
		if ids, err = b.encodePrompt(s, hist, s.text); err != nil {
			return nil, nil, 0, err
		}
		f = fateTruncated
	}
	if len(ids) > b.opt.MaxSeq || from >= len(hist) {
		return nil, nil, fateDropped, nil
	}
	mask := make([]uint8, len(ids))
	v := b.meta.SID
	spanIdx := -1
	for i, id := range ids {
		switch {
		case id == v.Open:
			spanIdx++
		case id == v.Close:
		case spanIdx >= from && v.IsSIDToken(id):
			mask[i] = 1
		}
	}
	return ids, mask, f, nil
}

// maxEncoded bounds the memo of encoded texts.
const maxEncoded = 1 << 20

// encodeText is b.tok.Encode, memoized (the export is single-threaded). The
// slice is clipped so that a caller's append copies it.
func (b *builder) encodeText(text string) ([]int32, error) {
	if ids, ok := b.encoded[text]; ok {
		return ids, nil
	}
	ids, err := b.tok.Encode(text)
	if err != nil {
		return nil, err
	}
	ids = ids[:len(ids):len(ids)]
	if b.encoded == nil {
		b.encoded = map[string][]int32{}
	}
	if len(b.encoded) < maxEncoded {
		b.encoded[text] = ids
	}
	return ids, nil
}
