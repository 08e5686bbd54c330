package sid

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TokenizerFile is the file name of the tokenizer in a model directory.
const TokenizerFile = "tokenizer.json"

// maxTokenizerFile bounds what LoadTokenizer reads (a 6k vocabulary is ~200 KB).
const maxTokenizerFile = 64 << 20

// hfAddedToken is one entry of tokenizer.json "added_tokens".
type hfAddedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfByteLevel struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       bool   `json:"use_regex"`
}

// hfModel is the BPE "model" object. Vocab is written in id order by
// MarshalJSON (encoding/json would sort the keys).
type hfModel struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	Vocab                   orderedVocab    `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

type hfTokenizerFile struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

// orderedVocab is a token → id map that marshals in id order.
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, tok := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		fmt.Fprintf(&b, ":%d", i)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a token → id object whose ids must be exactly 0..n-1.
func (v *orderedVocab) UnmarshalJSON(data []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	out := make([]string, len(m))
	seen := make([]bool, len(m))
	for tok, id := range m {
		if id < 0 || id >= int64(len(m)) || seen[id] {
			return fmt.Errorf("vocab ids are not 0..%d (token %q has id %d)", len(m)-1, tok, id)
		}
		seen[id] = true
		out[id] = tok
	}
	*v = out
	return nil
}

// MarshalHF renders the tokenizer in the Hugging Face tokenizers schema:
// a BPE model (vocab + merges), byte-level pre-tokenizer and decoder, and
// every special and SID token in added_tokens with its id.
func (t *Tokenizer) MarshalHF() ([]byte, error) {
	unk := TokenUnk
	merges := make([]string, len(t.mergesL))
	for i, m := range t.mergesL {
		merges[i] = m[0] + " " + m[1]
	}
	mj, err := marshalNoEscape(merges)
	if err != nil {
		return nil, err
	}
	bl, _ := json.Marshal(hfByteLevel{Type: "ByteLevel", AddPrefixSpace: false, TrimOffsets: true, UseRegex: true})
	f := hfTokenizerFile{
		Version:       "1.0",
		Truncation:    json.RawMessage("null"),
		Padding:       json.RawMessage("null"),
		Normalizer:    json.RawMessage("null"),
		PreTokenizer:  bl,
		PostProcessor: json.RawMessage("null"),
		Decoder:       bl,
		Model: hfModel{
			Type: "BPE", UnkToken: &unk, Vocab: orderedVocab(t.vocab), Merges: mj,
		},
	}
	// pad and unk are BPE tokens and specials at once, as in HF files.
	for i := 0; i < 2; i++ {
		f.AddedTokens = append(f.AddedTokens, hfAddedToken{ID: int32(i), Content: t.vocab[i], Special: true})
	}
	for i, a := range t.added {
		f.AddedTokens = append(f.AddedTokens, hfAddedToken{ID: int32(len(t.vocab) + i), Content: a, Special: true})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping, so "<|pad|>" stays
// readable in tokenizer.json.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// ParseTokenizer reads a tokenizer.json written by MarshalHF (or any
// Hugging Face byte-level BPE file with the same layout: vocabulary ids
// 0..n-1 starting with <|pad|>, <|unk|>; added tokens with consecutive ids
// after it).
func ParseTokenizer(data []byte) (*Tokenizer, error) {
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("sid: tokenizer.json: %w", err)
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("sid: tokenizer.json: model type %q, want BPE", f.Model.Type)
	}
	for name, raw := range map[string]json.RawMessage{"pre_tokenizer": f.PreTokenizer, "decoder": f.Decoder} {
		var bl hfByteLevel
		if err := json.Unmarshal(raw, &bl); err != nil || bl.Type != "ByteLevel" || bl.AddPrefixSpace {
			return nil, fmt.Errorf("sid: tokenizer.json: %s must be ByteLevel without add_prefix_space", name)
		}
	}
	if n := strings.TrimSpace(string(f.Normalizer)); n != "" && n != "null" {
		return nil, fmt.Errorf("sid: tokenizer.json: normalizers are not supported")
	}
	if f.Model.ContinuingSubwordPrefix != nil && *f.Model.ContinuingSubwordPrefix != "" ||
		f.Model.EndOfWordSuffix != nil && *f.Model.EndOfWordSuffix != "" || f.Model.Dropout != nil && *f.Model.Dropout != 0 {
		return nil, fmt.Errorf("sid: tokenizer.json: BPE prefix/suffix/dropout are not supported")
	}
	merges, err := parseMerges(f.Model.Merges)
	if err != nil {
		return nil, fmt.Errorf("sid: tokenizer.json: %w", err)
	}
	vocab := []string(f.Model.Vocab)
	added := append([]hfAddedToken(nil), f.AddedTokens...)
	sort.Slice(added, func(i, j int) bool { return added[i].ID < added[j].ID })
	var extra []string
	for _, a := range added {
		if a.ID < 0 {
			return nil, fmt.Errorf("sid: tokenizer.json: added token %q has negative id %d", a.Content, a.ID)
		}
		if int(a.ID) < len(vocab) {
			if vocab[a.ID] != a.Content {
				return nil, fmt.Errorf("sid: tokenizer.json: added token %q has id %d, which is %q in the vocabulary", a.Content, a.ID, vocab[a.ID])
			}
			continue
		}
		if want := len(vocab) + len(extra); int(a.ID) != want {
			return nil, fmt.Errorf("sid: tokenizer.json: added token %q has id %d, want %d (ids must follow the vocabulary without gaps)", a.Content, a.ID, want)
		}
		extra = append(extra, a.Content)
	}
	t, err := NewTokenizer(vocab, merges, extra)
	if err != nil {
		return nil, fmt.Errorf("%w (in tokenizer.json)", err)
	}
	return t, nil
}

// parseMerges accepts both merge encodings of tokenizer.json: "a b" strings
// and ["a", "b"] pairs.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d: %q is not two tokens", i, s)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var p []string
		if err := json.Unmarshal(it, &p); err != nil || len(p) != 2 || p[0] == "" || p[1] == "" {
			return nil, fmt.Errorf("merge %d is neither \"a b\" nor [a, b]", i)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// LoadTokenizer reads dir/tokenizer.json (TokenizerFile), the tokenizer of
// a model directory or an export: the exporter encodes training data and the
// engine encodes serving input with it, so the two cannot drift.
func LoadTokenizer(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, TokenizerFile)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sid: %w", err)
	}
	if fi.Size() > maxTokenizerFile {
		return nil, fmt.Errorf("sid: %s is %d bytes, more than the %d allowed", path, fi.Size(), maxTokenizerFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sid: %w", err)
	}
	t, err := ParseTokenizer(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	if err := t.attachLibrary(path); err != nil {
		return nil, err
	}
	return t, nil
}
