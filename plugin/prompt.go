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
			req.Task = TaskRaw
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
		if len(req.History) == 0 && req.Prompt == "" && strings.TrimSpace(req.Context) == "" {
			return fmt.Errorf("%w: %s needs a history or an ask (context)", ErrBadRequest, req.Task)
		}
	case TaskRaw:
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
		case TaskMixed, TaskRaw:
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
// to snapshot ordinals (for exclusion). Unknown entries are an error, and
// so are stale ones: the snapshot keeps the ordinal of an item deleted or
// given another SID (or none) as unavailable until the next rebuild, so an
// unavailable entry is asked of live (nil: not checked) whether item id
// still holds that SID, which tells a stale entry from an item out of
// stock, still a fair history item.
func resolveHistory(snap *index.Snapshot, hist []string, live func(id string, s sid.SID) bool) ([]sid.SID, []uint32, error) {
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
			if !ok || (live != nil && !snap.Available(ord) && !live(snap.ID(ord), s)) {
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
		if live != nil && !snap.Available(ord) && !live(h, snap.SID(ord)) {
			return nil, nil, fmt.Errorf("%w: history: item %q was deleted or has no SID now", ErrBadRequest, h)
		}
		sids = append(sids, snap.SID(ord))
		ords = append(ords, ord)
	}
	return sids, ords, nil
}

// buildPrompt renders the prompt the trainer used for this task:
//
//	<|bos|> <|user|> INSTRUCTION <|fmt:F|> <|assistant|>
//
// or, for recommend in the ids format when the model was trained on the
// sequence format (neo.json templates["recommend_sequence"]),
//
//	<|bos|> <|user|> TEMPLATE-TEXT [SID]…[/SID] … [SID]…[/SID]
//
// Both come from the contract's one renderer (sid.Prompt,
// sid.SequencePrompt). An instruction prompt keeps the history cap of
// training (Config.PromptHistory, else neo.json prompt_history); a prompt
// longer than the model's max_seq leaves room for loses its oldest history
// items (as the exporter drops them in training); a prompt still too long
// is an error.
func (e *Engine) buildPrompt(req *Request, history []sid.SID) ([]int32, error) {
	history = e.writable(history)
	seq := e.sequenceTemplate(req)
	n := e.cfg.PromptHistory
	if n == 0 {
		n = e.meta.PromptHistory
	}
	if n > 0 && seq == "" && len(history) > n {
		history = history[len(history)-n:]
	}
	limit := e.meta.MaxSeq - 1 // the prompt plus at least one decoded token
	if req.Format == FormatIDs {
		// [SID], the type and all codes but the last are fed back
		limit = e.meta.MaxSeq - e.meta.SID.Levels() - 1
	}
	for {
		ids, err := e.renderPrompt(req, seq, history)
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

// writable keeps the history items whose SIDs the model can write: an
// item the catalog gave an SID outside the model's vocabulary (a type it
// never saw, a code beyond its codebook) cannot be put into the prompt,
// and one such item must not fail the whole request. It stays excluded
// from the answer all the same.
func (e *Engine) writable(history []sid.SID) []sid.SID {
	var out []sid.SID // nil until an item is dropped
	for i, s := range history {
		_, err := e.meta.SID.Tokens(s)
		switch {
		case err != nil && out == nil:
			out = append(make([]sid.SID, 0, len(history)), history[:i]...)
		case err == nil && out != nil:
			out = append(out, s)
		}
	}
	if out == nil {
		return history
	}
	return out
}

// sequenceTemplate is the recommend-sequence template when req is served
// in that format (a recommend in ids, no own prompt or context, a model
// trained on it), else "".
func (e *Engine) sequenceTemplate(req *Request) string {
	seq := e.meta.Templates[sid.TaskRecommendSequence]
	if len(seq) == 0 || req.Task != TaskRecommend || req.Format != FormatIDs ||
		req.Prompt != "" || strings.TrimSpace(req.Context) != "" {
		return ""
	}
	return seq[0]
}

func (e *Engine) renderPrompt(req *Request, seqTpl string, history []sid.SID) ([]int32, error) {
	var segs []sid.Segment
	var err error
	switch {
	case req.Task == TaskRaw || req.Prompt != "":
		segs, err = sid.RawPrompt(req.Prompt, req.Format)
	case seqTpl != "":
		segs, err = sid.SequencePrompt(seqTpl, history)
	default:
		task := req.Task
		if task == TaskRecommend && req.Format == FormatMixed {
			// the model learned recommendations with text as the mixed
			// task; recommend's own prompts were only trained in ids
			task = TaskMixed
		}
		tpls := e.meta.Templates[task]
		if len(tpls) == 0 {
			return nil, fmt.Errorf("plugin: the model has no template for task %q", req.Task)
		}
		tpl := tpls[0]
		if strings.TrimSpace(req.Context) != "" {
			// the ask goes into the prompt through the task's trained
			// {context} template (the first one never has it); a task
			// without one still hears it through the bm25 prior
			for _, t := range tpls {
				if strings.Contains(t, "{context}") {
					tpl = t
					break
				}
			}
		}
		segs, err = sid.Prompt(tpl, req.Format, map[string][]sid.Segment{
			"query":   {{Text: strings.TrimSpace(req.Query)}},
			"type":    {{Text: sid.TypeWord(req.Types)}},
			"history": sid.Spans(history),
			"context": {{Text: strings.TrimSpace(req.Context)}},
		})
	}
	if err != nil {
		return nil, err
	}
	return e.meta.SID.Encode(segs, e.tok.Encode, e.meta.Special)
}
