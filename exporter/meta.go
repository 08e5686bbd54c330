package exporter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/neo-search/neo/sid"
)

// PromptVersion is written into neo.json. It changes whenever templates,
// the sequence layout or the {type} wording change: a model trained on one
// version is not served with another.
const PromptVersion = 1

// ValidateMeta checks that m is a complete and self-consistent neo.json of
// this build's exporter: stricter than sid.ModelMeta.Check, it also checks
// the prompt version, the SID level count, the vocabulary size, <|pad|> and
// <|unk|>, the templates of every task and max_seq.
func ValidateMeta(m *sid.ModelMeta) error {
	if m.FormatVersion != sid.MetaFormatVersion {
		return fmt.Errorf("exporter: neo.json format_version %d, this build reads %d", m.FormatVersion, sid.MetaFormatVersion)
	}
	if m.PromptVersion != PromptVersion {
		return fmt.Errorf("exporter: neo.json prompt_version %d, this build renders prompts of version %d; re-export and retrain", m.PromptVersion, PromptVersion)
	}
	if m.SID == nil || len(m.SID.CodeBase) < 2 || len(m.SID.CodeBase) != len(m.SID.CodeCount) {
		return fmt.Errorf("exporter: neo.json has no valid sid vocabulary")
	}
	if m.SIDLevels != m.SID.Levels()-1 {
		return fmt.Errorf("exporter: neo.json sid_levels %d, but the sid vocabulary has %d levels (semantic + collision)", m.SIDLevels, m.SID.Levels())
	}
	if int(m.SID.End()) != m.VocabSize {
		return fmt.Errorf("exporter: neo.json vocab_size %d, but SID tokens end at %d", m.VocabSize, m.SID.End())
	}
	for _, s := range append([]string{sid.TokenPad, sid.TokenUnk}, sid.SpecialTokens...) {
		id, ok := m.Special[s]
		if !ok {
			return fmt.Errorf("exporter: neo.json special lacks %s", s)
		}
		if id < 0 || m.SID.IsSIDToken(id) || int(id) >= m.VocabSize {
			return fmt.Errorf("exporter: neo.json special %s has id %d inside the SID range or outside the vocabulary", s, id)
		}
	}
	for _, task := range Tasks {
		tpls := m.Templates[task]
		if len(tpls) == 0 {
			return fmt.Errorf("exporter: neo.json has no %s templates", task)
		}
		if strings.Contains(tpls[0], "{context}") {
			return fmt.Errorf("exporter: neo.json %s template 0 uses {context}; template 0 is served and must not need it", task)
		}
	}
	if m.MaxSeq < MinMaxSeq {
		return fmt.Errorf("exporter: neo.json max_seq %d below %d", m.MaxSeq, MinMaxSeq)
	}
	return nil
}

// LoadMeta reads dir/neo.json and validates it with ValidateMeta.
func LoadMeta(dir string) (*sid.ModelMeta, error) {
	path := filepath.Join(dir, sid.MetaFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	m, err := ParseMeta(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return m, nil
}

// ParseMeta decodes neo.json content and validates it with ValidateMeta.
func ParseMeta(data []byte) (*sid.ModelMeta, error) {
	var m sid.ModelMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("exporter: neo.json: %w", err)
	}
	if err := ValidateMeta(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Prompt returns the segments of a prompt for template i of task in m:
//
//	<|bos|> <|user|> INSTRUCTION <|fmt:F|> <|assistant|>
//
// Serving uses template 0; training samples all. vals fills the template's
// placeholders (see TextValue, TypeValue and sid.Spans).
func Prompt(m *sid.ModelMeta, task string, i int, format string, vals map[string][]sid.Segment) ([]sid.Segment, error) {
	tpls := m.Templates[task]
	if i < 0 || i >= len(tpls) {
		return nil, fmt.Errorf("exporter: no %s template %d (%d templates)", task, i, len(tpls))
	}
	return PromptSegments(tpls[i], format, vals)
}

// PromptSegments renders one instruction template into the prompt layout of
// CONTRACTS.md, up to and including <|assistant|>.
func PromptSegments(tpl, format string, vals map[string][]sid.Segment) ([]sid.Segment, error) {
	switch format {
	case sid.FormatIDs, sid.FormatText, sid.FormatMixed:
	default:
		return nil, fmt.Errorf("exporter: unknown output format %q", format)
	}
	body, err := sid.RenderTemplate(tpl, vals)
	if err != nil {
		return nil, err
	}
	out := make([]sid.Segment, 0, len(body)+5)
	out = append(out, sid.Segment{Special: sid.TokenBOS}, sid.Segment{Special: sid.TokenUser})
	out = append(out, body...)
	out = append(out, sid.Segment{Special: sid.FormatToken(format)}, sid.Segment{Special: sid.TokenAssistant})
	return out, nil
}

// TextValue is a placeholder value made of plain text.
func TextValue(s string) []sid.Segment { return []sid.Segment{{Text: s}} }

// TypeValue is the {type} value for entity type typ: its plural word
// ("handbags"), or "items" when typ is empty.
func TypeValue(typ string) []sid.Segment {
	if typ == "" {
		return TextValue(NoTypeWords[0])
	}
	return TextValue(TypePlural(typ))
}
