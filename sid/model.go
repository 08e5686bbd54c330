package sid

import (
	"fmt"
	"strings"
)

// Tasks, as keys of neo.json "templates" and values of a request's task.
const (
	TaskSearch    = "search"
	TaskRecommend = "recommend"
	TaskExplain   = "explain"
	TaskMixed     = "mixed" // a recommendation with a reason in text
	// TaskRaw is a request that brings its own prompt text; it has no
	// template.
	TaskRaw = "raw"
	// TaskRecommendSequence is the templates key of the recommend sequence
	// format: its one template ends with {history} and the prompt is
	//
	//	<|bos|> <|user|> TEMPLATE-TEXT [SID]…[/SID] [SID]…[/SID] …
	//
	// with no format token or <|assistant|>: the next item is simply the next
	// SID span (SequencePrompt).
	TaskRecommendSequence = "recommend_sequence"
)

// Tasks lists the templated tasks in a fixed order; every neo.json has
// templates for each.
var Tasks = []string{TaskSearch, TaskRecommend, TaskExplain, TaskMixed}

// TaskFormat is the output format each task is trained with and served by
// default.
var TaskFormat = map[string]string{
	TaskSearch:    FormatIDs,
	TaskRecommend: FormatIDs,
	TaskExplain:   FormatText,
	TaskMixed:     FormatMixed,
}

// PromptVersion is written into neo.json. It changes whenever templates,
// the sequence layout or the {type} wording change: a model trained on one
// version is not served with another.
const PromptVersion = 1

// MinMaxSeq is the smallest max_seq a model directory may have: room for
// the prompt frame, one SID span and a short instruction.
const MinMaxSeq = 32

// Validate checks that m is a complete and self-consistent neo.json that
// this build can serve and train: the format and prompt versions, the SID
// vocabulary and its level count, the vocabulary size, every special
// token, the templates of every task and max_seq. Serving and the exporter
// both call it, so neither accepts what the other would not.
func (m *ModelMeta) Validate() error {
	if m.FormatVersion != MetaFormatVersion {
		return fmt.Errorf("format_version %d, this build reads %d", m.FormatVersion, MetaFormatVersion)
	}
	if m.PromptVersion != PromptVersion {
		return fmt.Errorf("prompt_version %d, this build renders prompts of version %d; re-export and retrain", m.PromptVersion, PromptVersion)
	}
	if m.SID == nil || len(m.SID.CodeBase) < 2 || len(m.SID.CodeBase) != len(m.SID.CodeCount) {
		return fmt.Errorf("missing or malformed sid vocabulary")
	}
	if m.SIDLevels != m.SID.Levels()-1 {
		return fmt.Errorf("sid_levels %d, but the sid vocabulary has %d levels (semantic + collision)", m.SIDLevels, m.SID.Levels())
	}
	if int(m.SID.End()) != m.VocabSize {
		return fmt.Errorf("vocab_size %d, but SID tokens end at %d", m.VocabSize, m.SID.End())
	}
	for _, s := range append([]string{TokenPad, TokenUnk}, SpecialTokens...) {
		id, ok := m.Special[s]
		if !ok {
			return fmt.Errorf("special token %s missing", s)
		}
		if id < 0 || m.SID.IsSIDToken(id) || int(id) >= m.VocabSize {
			return fmt.Errorf("special token %s has id %d inside the SID range or outside the vocabulary", s, id)
		}
	}
	for _, task := range Tasks {
		tpls := m.Templates[task]
		if len(tpls) == 0 {
			return fmt.Errorf("no %s templates", task)
		}
		if strings.Contains(tpls[0], "{context}") {
			return fmt.Errorf("%s template 0 uses {context}; template 0 is served and must not need it", task)
		}
	}
	if seq, ok := m.Templates[TaskRecommendSequence]; ok && (len(seq) == 0 || !strings.HasSuffix(seq[0], "{history}")) {
		return fmt.Errorf("%s template 0 must end with {history}", TaskRecommendSequence)
	}
	if m.MaxSeq < MinMaxSeq {
		return fmt.Errorf("max_seq %d below %d", m.MaxSeq, MinMaxSeq)
	}
	if m.PromptHistory < 0 {
		return fmt.Errorf("prompt_history %d is negative", m.PromptHistory)
	}
	return nil
}

// LoadModel reads a model directory's contract files together: neo.json
// (validated with Validate) and tokenizer.json, and checks that they agree
// on every special and SID token id (CheckTokenizer). The weights are the
// onnx package's.
func LoadModel(dir string) (*ModelMeta, *Tokenizer, error) {
	m, err := LoadModelMeta(dir)
	if err != nil {
		return nil, nil, err
	}
	t, err := LoadTokenizer(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := m.CheckTokenizer(t); err != nil {
		return nil, nil, fmt.Errorf("%w (%s)", err, dir)
	}
	return m, t, nil
}

// Prompt renders instruction template tpl into the prompt layout of
// CONTRACTS.md, up to and including <|assistant|>:
//
//	<|bos|> <|user|> INSTRUCTION <|fmt:F|> <|assistant|>
//
// The exporter renders training prompts with it and the engine serving
// prompts, so the two cannot drift. vals fills the placeholders.
func Prompt(tpl, format string, vals map[string][]Segment) ([]Segment, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	body, err := RenderTemplate(tpl, vals)
	if err != nil {
		return nil, err
	}
	return frame(body, format), nil
}

// RawPrompt frames a caller's own instruction text like Prompt does.
func RawPrompt(text, format string) ([]Segment, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	return frame([]Segment{{Text: text}}, format), nil
}

// SequencePrompt renders the TaskRecommendSequence template with a history:
// <|bos|> <|user|> TEMPLATE-TEXT and the history's SID spans, open-ended.
func SequencePrompt(tpl string, history []SID) ([]Segment, error) {
	body, err := RenderTemplate(tpl, map[string][]Segment{"history": Spans(history)})
	if err != nil {
		return nil, err
	}
	return userTurn(body, 0), nil
}

func checkFormat(format string) error {
	switch format {
	case FormatIDs, FormatText, FormatMixed:
		return nil
	}
	return fmt.Errorf("sid: unknown output format %q", format)
}

// frame is the instruction layout: <|bos|> <|user|> body <|fmt:F|> <|assistant|>.
func frame(body []Segment, format string) []Segment {
	return append(userTurn(body, 2), Segment{Special: FormatToken(format)}, Segment{Special: TokenAssistant})
}

// userTurn is <|bos|> <|user|> body, with capacity for extra segments after it.
func userTurn(body []Segment, extra int) []Segment {
	out := make([]Segment, 0, 2+len(body)+extra)
	out = append(out, Segment{Special: TokenBOS}, Segment{Special: TokenUser})
	return append(out, body...)
}
