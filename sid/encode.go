package sid

import (
	"fmt"
	"strings"
)

// Segment is one piece of a model sequence: free text, a special marker
// token (e.g. "<|user|>"), or an SID written as its token span.
// Exactly one field is set.
type Segment struct {
	Text    string
	Special string
	SID     *SID
}

// TextEncoder turns plain text into BPE token ids.
type TextEncoder func(text string) ([]int32, error)

// Encode turns segments into token ids. Adjacent text segments are merged
// before encoding so that a sequence tokenizes the same however it was cut.
// The exporter (training data) and the plugin (serving prompts) both encode
// through here, so train and serve sequences cannot drift.
func (v *Vocab) Encode(segs []Segment, enc TextEncoder, special map[string]int32) ([]int32, error) {
	var out []int32
	var text strings.Builder
	flush := func() error {
		if text.Len() == 0 {
			return nil
		}
		ids, err := enc(text.String())
		text.Reset()
		if err != nil {
			return err
		}
		out = append(out, ids...)
		return nil
	}
	for _, s := range segs {
		switch {
		case s.SID != nil:
			if err := flush(); err != nil {
				return nil, err
			}
			toks, err := v.Tokens(*s.SID)
			if err != nil {
				return nil, err
			}
			out = append(out, toks...)
		case s.Special != "":
			if err := flush(); err != nil {
				return nil, err
			}
			id, ok := special[s.Special]
			if !ok {
				return nil, fmt.Errorf("sid: unknown special token %q", s.Special)
			}
			out = append(out, id)
		default:
			text.WriteString(s.Text)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// RenderTemplate fills the {name} placeholders of tpl with vals and returns
// the resulting segments. A placeholder with no value is an error, so a
// template and its caller cannot silently disagree.
func RenderTemplate(tpl string, vals map[string][]Segment) ([]Segment, error) {
	var out []Segment
	for len(tpl) > 0 {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			out = append(out, Segment{Text: tpl})
			break
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("sid: template has unclosed placeholder: %q", tpl)
		}
		if i > 0 {
			out = append(out, Segment{Text: tpl[:i]})
		}
		name := tpl[i+1 : i+j]
		v, ok := vals[name]
		if !ok {
			return nil, fmt.Errorf("sid: template placeholder {%s} has no value", name)
		}
		out = append(out, v...)
		tpl = tpl[i+j+1:]
	}
	return out, nil
}

// Spans turns a list of SIDs into segments, as used for {history} and for
// ids-format completions. [SID] and [/SID] delimit them, so no text goes
// between.
func Spans(sids []SID) []Segment {
	out := make([]Segment, len(sids))
	for i := range sids {
		out[i] = Segment{SID: &sids[i]}
	}
	return out
}

// TypeWord renders entity types as the plain words prompts use for the
// {type} placeholder: "handbags", "rings or watches"; "items" for none.
// Exporter and plugin both call it so train and serve prompts agree.
func TypeWord(types []string) string {
	if len(types) == 0 {
		return "items"
	}
	words := make([]string, len(types))
	for i, t := range types {
		words[i] = plural(strings.ReplaceAll(t, "_", " "))
	}
	return strings.Join(words, " or ")
}

func plural(w string) string {
	switch {
	case w == "":
		return w
	case strings.HasSuffix(w, "s"), strings.HasSuffix(w, "x"), strings.HasSuffix(w, "ch"), strings.HasSuffix(w, "sh"):
		return w + "es"
	case strings.HasSuffix(w, "y") && len(w) > 1 && !strings.ContainsRune("aeiou", rune(w[len(w)-2])):
		return w[:len(w)-1] + "ies"
	}
	return w + "s"
}
