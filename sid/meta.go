package sid

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ModelMeta is a model directory's neo.json: what the exporter writes and
// the engine reads besides the weights and the tokenizer
// (docs/CONTRACTS.md "Model directory"). It is the one Go type of that file.
type ModelMeta struct {
	FormatVersion int `json:"format_version"`
	// PromptVersion is the version of the prompt templates and sequence
	// layout the model was trained with.
	PromptVersion int `json:"prompt_version"`
	// VocabSize is the number of token ids: BPE, special and SID tokens.
	VocabSize int `json:"vocab_size"`
	// Special maps special token strings (TokenPad, TokenUnk, SpecialTokens)
	// to their ids.
	Special map[string]int32 `json:"special"`
	SID     *Vocab           `json:"sid"`
	// SIDLevels is the number of semantic code levels; the SID vocabulary
	// has one more (the collision level).
	SIDLevels int `json:"sid_levels"`
	// Templates are the instruction templates per task; template 0 is the
	// one serving uses.
	Templates map[string][]string `json:"templates"`
	MaxSeq    int                 `json:"max_seq"`
	// PromptHistory is the most history items the exporter put into one
	// recommend, explain or mixed prompt; serving keeps the same cap. Zero:
	// not recorded (older exports, sequence-format models), the prompt is
	// bounded by MaxSeq alone.
	PromptHistory int `json:"prompt_history,omitempty"`
	// Model and Training are filled in by the Python trainer (network shape
	// and training provenance); they are informational and kept verbatim.
	Model    json.RawMessage `json:"model,omitempty"`
	Training json.RawMessage `json:"training,omitempty"`
}

// MetaFile is the metadata file's name inside a model directory.
const MetaFile = "neo.json"

// MetaFormatVersion is the neo.json format_version this build writes and
// reads.
const MetaFormatVersion = 1

// LoadModelMeta reads dir/neo.json and validates it (Validate). LoadModel
// also reads and checks the tokenizer beside it.
func LoadModelMeta(dir string) (*ModelMeta, error) {
	path := filepath.Join(dir, MetaFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sid: model metadata: %w", err)
	}
	var m ModelMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("sid: %s: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("sid: %s: %w", path, err)
	}
	return &m, nil
}

// Marshal renders neo.json (indented, stable key order, no HTML escaping).
func (m *ModelMeta) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// CheckTokenizer verifies that the tokenizer's added tokens carry the ids
// neo.json gives them, so prompts encoded by id and text decoded by the
// tokenizer agree.
func (m *ModelMeta) CheckTokenizer(t *Tokenizer) error {
	if t.VocabSize() != m.VocabSize {
		return fmt.Errorf("sid: tokenizer has %d ids, neo.json vocab_size is %d", t.VocabSize(), m.VocabSize)
	}
	for s, id := range m.Special {
		if got, ok := t.TokenID(s); !ok || got != id {
			return fmt.Errorf("sid: special %s is id %d in neo.json but %d in the tokenizer", s, id, got)
		}
	}
	if m.SID == nil {
		return fmt.Errorf("sid: neo.json has no sid vocabulary")
	}
	for i, s := range m.SID.Strings() {
		want := m.SID.Open + int32(i)
		if got, ok := t.TokenID(s); !ok || got != want {
			return fmt.Errorf("sid: SID token %s is id %d in neo.json but %d in the tokenizer", s, want, got)
		}
	}
	return nil
}

// Encode turns segments into token ids with this model's special and SID
// ids and enc (usually Tokenizer.Encode) for the text.
func (m *ModelMeta) Encode(segs []Segment, enc TextEncoder) ([]int32, error) {
	return m.SID.Encode(segs, enc, m.Special)
}
