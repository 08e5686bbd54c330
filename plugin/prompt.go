package plugin

import (
	"fmt"
	"strings"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/sid"
)

// normalize fills a request's defaults and validates it.
func (e *Engine) normalize(req *Request) error {
	if req.Task == "" {
		switch {
		case req.Prompt != "":
			req.Task = "raw"
		case req.Query != "":
			req.Task = TaskSearch
		case len(req.History) > 0:
			req.Task = TaskRecommend
		default:
			return fmt.Errorf("%w: give a query, a history or a prompt", ErrBadRequest)
		}
	}
	switch req.Task {
	case TaskSearch:
		if strings.TrimSpace(req.Query) == "" && req.Prompt == "" {
			return fmt.Errorf("%w: search needs a query", ErrBadRequest)
		}
	case TaskRecommend, TaskExplain, TaskMixed:
		if len(req.History) == 0 && req.Prompt == "" {
			return fmt.Errorf("%w: %s needs a history", ErrBadRequest, req.Task)
		}
	case "raw":
		if req.Prompt == "" {
			return fmt.Errorf("%w: empty prompt", ErrBadRequest)
		}
	default:
		return fmt.Errorf("%w: unknown task %q (want search, recommend, explain or mixed)", ErrBadRequest, req.Task)
	}
	if req.Format == "" {
		switch req.Task {
		case TaskExplain:
			req.Format = FormatText
		case TaskMixed, "raw":
			req.Format = FormatMixed
		default:
			req.Format = FormatIDs
		}
	}
	switch req.Format {
	case FormatIDs, FormatText, FormatMixed:
	default:
		return fmt.Errorf("%w: unknown format %q (want ids, text or mixed)", ErrBadRequest, req.Format)
	}
	if req.K == 0 {
		req.K = 10
	}
	if req.K < 0 || req.K > e.cfg.MaxK {
		return fmt.Errorf("%w: k must be in 1..%d", ErrBadRequest, e.cfg.MaxK)
	}
	if req.BeamWidth == 0 {
		req.BeamWidth = max(req.K, 10)
	}
	if req.BeamWidth < req.K || req.BeamWidth > e.cfg.MaxBeam {
		return fmt.Errorf("%w: beam width must be in k..%d", ErrBadRequest, e.cfg.MaxBeam)
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = 96
	}
	if req.MaxTokens < 0 || req.MaxTokens > e.cfg.MaxTokens {
		return fmt.Errorf("%w: max_tokens must be in 1..%d", ErrBadRequest, e.cfg.MaxTokens)
	}
	if req.Temperature < 0 || req.Temperature > 5 {
		return fmt.Errorf("%w: temperature must be in 0..5", ErrBadRequest)
	}
	if req.TopP == 0 {
		req.TopP = 1
	}
	if req.TopP < 0 || req.TopP > 1 {
		return fmt.Errorf("%w: top_p must be in (0,1]", ErrBadRequest)
	}
	if len(req.History) > e.cfg.MaxHistory {
		return fmt.Errorf("%w: history has %d items (max %d)", ErrBadRequest, len(req.History), e.cfg.MaxHistory)
	}
	for i, t := range req.Types {
		n := sid.NormalizeType(t)
		if n == "" || e.meta.SID.TypeIndex(n) < 0 {
			return fmt.Errorf("%w: unknown type %q (known: %s)", ErrBadRequest, t, strings.Join(e.meta.SID.Types, ", "))
		}
		req.Types[i] = n
	}
	return nil
}

// resolveHistory maps history entries (item ids or SID text) to SIDs and
// to snapshot ordinals (for exclusion). Unknown entries are an error.
func resolveHistory(snap *index.Snapshot, hist []string) ([]sid.SID, []uint32, error) {
	sids := make([]sid.SID, 0, len(hist))
	ords := make([]uint32, 0, len(hist))
	for _, h := range hist {
		h = strings.TrimSpace(h)
		if strings.HasPrefix(h, sid.TextPrefix) {
			s, err := sid.Parse(h)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: history: %v", ErrBadRequest, err)
			}
			ord, ok := snap.Lookup(s)
			if !ok {
				return nil, nil, fmt.Errorf("%w: history: no catalog item has SID %s", ErrBadRequest, s)
			}
			sids = append(sids, s)
			ords = append(ords, ord)
			continue
		}
		ord, ok := snap.Ordinal(h)
		if !ok {
			return nil, nil, fmt.Errorf("%w: history: unknown item id %q (or it has no SID yet)", ErrBadRequest, h)
		}
		sids = append(sids, snap.SID(ord))
		ords = append(ords, ord)
	}
	return sids, ords, nil
}

// templateRecommendSequence is the neo.json templates key of the recommend
// sequence format (exporter.TaskRecommendSequence): a model trained on it
// reads a history as a run of SID spans and names the next item as the
// next span, with no format token or <|assistant|> in between.
const templateRecommendSequence = "recommend_sequence"

// buildPrompt renders the prompt the trainer used for this task:
//
//	<|bos|> <|user|> INSTRUCTION <|fmt:F|> <|assistant|>
//
// or, for recommend in the ids format when the model was trained on the
// sequence format (neo.json templates["recommend_sequence"]),
//
//	<|bos|> <|user|> TEMPLATE-TEXT [SID]…[/SID] … [SID]…[/SID]
//
// A history longer than Config.PromptHistory, or than the model's max_seq
// leaves room for, loses its oldest items (as the exporter drops them in
// training); a prompt still too long is an error.
func (e *Engine) buildPrompt(req *Request, history []sid.SID) ([]int32, error) {
	if n := e.cfg.PromptHistory; n > 0 && len(history) > n {
		history = history[len(history)-n:]
	}
	limit := e.meta.MaxSeq - 1 // the prompt plus at least one decoded token
	if req.Format == FormatIDs {
		// [SID], the type and all codes but the last are fed back
		limit = e.meta.MaxSeq - e.meta.SID.Levels() - 1
	}
	for {
		ids, err := e.renderPrompt(req, history)
		if err != nil {
			return nil, err
		}
		if len(ids) <= limit {
			return ids, nil
		}
		if len(history) <= 1 {
			return nil, fmt.Errorf("%w: prompt is %d tokens, the model takes %d; shorten the query or history", ErrBadRequest, len(ids), e.meta.MaxSeq)
		}
		span := e.meta.SID.Levels() + 3 // [SID] type codes… [/SID]
		drop := min((len(ids)-limit+span-1)/span, len(history)-1)
		history = history[drop:]
	}
}

func (e *Engine) renderPrompt(req *Request, history []sid.SID) ([]int32, error) {
	seq := e.meta.Templates[templateRecommendSequence]
	useSeq := len(seq) > 0 && req.Task == TaskRecommend && req.Format == FormatIDs &&
		req.Prompt == "" && strings.TrimSpace(req.Context) == ""
	var instr []sid.Segment
	switch {
	case req.Task == "raw" || req.Prompt != "":
		instr = []sid.Segment{{Text: req.Prompt}}
	case useSeq:
		var err error
		if instr, err = sid.RenderTemplate(seq[0], map[string][]sid.Segment{"history": sid.Spans(history)}); err != nil {
			return nil, err
		}
	default:
		tpls := e.meta.Templates[req.Task]
		if len(tpls) == 0 {
			return nil, fmt.Errorf("plugin: the model has no template for task %q", req.Task)
		}
		vals := map[string][]sid.Segment{
			"query":   {{Text: strings.TrimSpace(req.Query)}},
			"type":    {{Text: sid.TypeWord(req.Types)}},
			"history": sid.Spans(history),
			"context": {{Text: strings.TrimSpace(req.Context)}},
		}
		var err error
		if instr, err = sid.RenderTemplate(tpls[0], vals); err != nil {
			return nil, err
		}
	}
	segs := make([]sid.Segment, 0, len(instr)+5)
	segs = append(segs, sid.Segment{Special: sid.TokenBOS}, sid.Segment{Special: sid.TokenUser})
	segs = append(segs, instr...)
	if !useSeq {
		segs = append(segs, sid.Segment{Special: sid.FormatToken(req.Format)}, sid.Segment{Special: sid.TokenAssistant})
	}
	return e.meta.SID.Encode(segs, e.tok.Encode, e.meta.Special)
}
