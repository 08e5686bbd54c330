package sid

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ModelMeta is a model directory's neo.json: what the exporter writes and
// the engine reads besides the weights and the tokenizer
// (docs/CONTRACTS.md).
type ModelMeta struct {
	FormatVersion int                 `json:"format_version"`
	PromptVersion int                 `json:"prompt_version"`
	VocabSize     int                 `json:"vocab_size"`
	Special       map[string]int32    `json:"special"`
	SID           *Vocab              `json:"sid"`
	SIDLevels     int                 `json:"sid_levels"`
	Templates     map[string][]string `json:"templates"`
	MaxSeq        int                 `json:"max_seq"`
	Model         json.RawMessage     `json:"model,omitempty"`
	Training      json.RawMessage     `json:"training,omitempty"`
}

// MetaFile is the metadata file's name inside a model directory.
const MetaFile = "neo.json"

// LoadModelMeta reads and checks dir/neo.json.
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
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("sid: %s: %w", path, err)
	}
	return &m, nil
}

// Check reports the first inconsistency of the metadata.
func (m *ModelMeta) Check() error {
	if m.FormatVersion != 1 {
		return fmt.Errorf("format_version %d, this build reads 1", m.FormatVersion)
	}
	if m.SID == nil || len(m.SID.CodeBase) < 2 || len(m.SID.CodeBase) != len(m.SID.CodeCount) {
		return fmt.Errorf("missing or malformed sid vocabulary")
	}
	if int(m.SID.End()) > m.VocabSize {
		return fmt.Errorf("sid tokens end at %d beyond vocab_size %d", m.SID.End(), m.VocabSize)
	}
	for _, name := range []string{"<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>", "<|fmt:ids|>", "<|fmt:text|>", "<|fmt:mixed|>"} {
		id, ok := m.Special[name]
		if !ok {
			return fmt.Errorf("special token %s missing", name)
		}
		if id < 0 || int(id) >= m.VocabSize {
			return fmt.Errorf("special token %s has id %d outside the vocabulary", name, id)
		}
	}
	if m.MaxSeq <= 0 {
		return fmt.Errorf("max_seq %d", m.MaxSeq)
	}
	return nil
}
