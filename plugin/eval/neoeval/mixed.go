package neoeval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/prior"
)

// MixedMaxTokens is the token budget of each mixed answer Mixed asks for.
const MixedMaxTokens = 64

// Mixed asks eng for n mixed answers ("task":"mixed", format mixed) on the
// histories of the test users (the latest one to three events, evenly
// spaced users), half at temperature 0 and half at 1, and reads them with
// plugin.CheckAnswer: once as neo serves (the fact guard on) and once
// without the guard on the first min(n, unguarded) of them. It leaves the
// guard on.
func Mixed(ctx context.Context, eng *plugin.Engine, ds *folder.Folder, n, unguarded int) (*eval.MixedReport, error) {
	f, err := eng.Facts()
	if err != nil {
		return nil, err
	}
	cases, _ := ds.CasesOf("test")
	var hists [][]string
	for _, c := range eval.Spaced(cases, n) {
		if len(c.History) == 0 {
			continue
		}
		k := 1 + len(hists)%3
		hists = append(hists, c.History[max(0, len(c.History)-k):])
	}
	if len(hists) == 0 {
		return nil, fmt.Errorf("mixed: no test user with a history")
	}
	run := func(hs [][]string) (eval.MixedStats, error) {
		var st eval.MixedStats
		tokens, ended := 0, 0
		for i, h := range hs {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			req := plugin.Request{Task: plugin.TaskMixed, Format: plugin.FormatMixed, History: h, MaxTokens: MixedMaxTokens, Seed: uint64(i + 1)}
			if i%2 == 1 {
				req.Temperature = 1
			}
			resp, err := eng.Generate(ctx, req)
			if err != nil {
				return st, fmt.Errorf("mixed answer %d: %w", i, err)
			}
			m, c, bad := plugin.CheckAnswer(f, resp)
			st.Answers++
			st.Mentions += m
			st.Contradictions += c
			st.Interventions += resp.FactInterventions
			tokens += resp.Tokens
			if resp.Tokens < MixedMaxTokens {
				ended++
			}
			for _, b := range bad {
				if len(st.Examples) < 10 {
					st.Examples = append(st.Examples, b)
				}
			}
		}
		if st.Mentions > 0 {
			st.Rate = float64(st.Contradictions) / float64(st.Mentions)
		}
		st.Ended = float64(ended) / float64(st.Answers)
		st.MeanTokens = float64(tokens) / float64(st.Answers)
		return st, nil
	}
	rep := &eval.MixedReport{MaxTokens: MixedMaxTokens}
	defer eng.SetFactGuard(true)
	eng.SetFactGuard(false)
	if rep.Unguarded, err = run(hists[:min(len(hists), unguarded)]); err != nil {
		return nil, err
	}
	eng.SetFactGuard(true)
	if rep.Guarded, err = run(hists); err != nil {
		return nil, err
	}
	return rep, nil
}

// RunDir is `neo eval` on a data folder: the baselines and, when the model
// directory (model; "": DefaultModelDir) has a model, the neo entries
// (Add), evaluated together ("none": the baselines alone); then, with o.Mixed, the mixed answers'
// check (Mixed, 300 of them also without the guard) when neo is among the
// methods kept (only) and the data has interactions.
func RunDir(ctx context.Context, dir, model, only string, opt eval.Options, o Options) (*eval.Report, error) {
	ds, err := folder.Load(dir)
	if err != nil {
		return nil, err
	}
	if model == "none" { // as --model documents it: the baselines alone
		model = ""
	} else if model == "" {
		model = DefaultModelDir(ds)
		if _, err := os.Stat(filepath.Join(model, "model.onnx")); err != nil {
			fmt.Fprintf(os.Stderr, "eval: no model at %s; method neo skipped (train one with neo train, or pass --model)\n", model)
			model = ""
		}
	}
	var used map[string]any
	var mixed *eval.MixedReport
	var asks *eval.AskReport
	rep, err := eval.RunMethods(ctx, ds, only, opt, func(m *eval.Methods, kit *eval.Kit) (func(), error) {
		if model == "" {
			return nil, nil
		}
		nm, u, err := Add(ctx, ds, kit, model, "neo", true, true, m, o)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		used = u
		if o.Mixed > 0 && ds.HasInteractions && (only == "" || slices.Contains(strings.Split(only, ","), "neo")) {
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "eval: %d mixed answers, with and without the fact guard\n", o.Mixed)
			}
			if mixed, err = Mixed(ctx, nm.Engine(), ds, o.Mixed, 300); err != nil {
				nm.Close()
				return nil, err
			}
			if asks, err = Asks(ctx, nm.Engine(), ds, 100); err != nil {
				nm.Close()
				return nil, err
			}
		}
		return func() { nm.Close() }, nil
	})
	if rep != nil {
		if len(used) > 0 {
			rep.Fusion = used
		}
		rep.Mixed, rep.Asks = mixed, asks
	}
	return rep, err
}

// Asks measures how well a free-text ask steers the items: n asks of the
// form the exporter trains ("something by BRAND", "something in COLOUR",
// alternating; the brand or colour of a random catalog item) with the
// history of a test user, as mixed answers and as top-5 recommendations;
// an item named matches when its brand (colour) is the one asked for. The
// same requests without the ask are the rate before asks were heard.
func Asks(ctx context.Context, eng *plugin.Engine, ds *folder.Folder, n int) (*eval.AskReport, error) {
	cases, _ := ds.CasesOf("test")
	cases = eval.Spaced(cases, n)
	var avail []index.Item
	for _, it := range ds.Items {
		if it.InStock && it.Brand != "" && it.Attributes["color"] != "" {
			avail = append(avail, it)
		}
	}
	if len(avail) == 0 || len(cases) == 0 {
		return nil, fmt.Errorf("asks: no items with a brand and a colour, or no test users")
	}
	rep := &eval.AskReport{}
	for i, c := range cases {
		if len(c.History) == 0 {
			continue
		}
		it := avail[(i*7919)%len(avail)]
		ask, want, field := "something by "+it.Brand, it.Brand, "brand"
		if i%2 == 1 {
			ask, want, field = "something in "+it.Attributes["color"], it.Attributes["color"], "color"
		}
		match := func(f map[string]any) bool {
			if field == "brand" {
				b, _ := f["brand"].(string)
				return strings.EqualFold(b, want)
			}
			a, _ := f["attributes"].(map[string]any)
			v, _ := a["color"].(string)
			return strings.EqualFold(v, want)
		}
		hist := c.History[max(0, len(c.History)-3):]
		for _, x := range []struct {
			task, format          string
			k                     int
			with, prompt, without *eval.AskStats
		}{
			{plugin.TaskMixed, plugin.FormatMixed, 1, &rep.MixedWithAsk, &rep.MixedPromptOnly, &rep.MixedWithout},
			{plugin.TaskRecommend, plugin.FormatIDs, 5, &rep.RecommendWithAsk, &rep.RecommendPromptOnly, &rep.RecommendWithout},
		} {
			for v := range 3 {
				req := plugin.Request{Task: x.task, Format: x.format, History: hist, K: x.k, MaxTokens: MixedMaxTokens, Seed: uint64(i + 1)}
				st := x.without
				switch v {
				case 0: // as served: the ask in the prompt and in the fusion
					req.Context, st = ask, x.with
				case 1: // the ask in the prompt, no fusion
					req.Context, req.Fusion, st = ask, prior.Weights{}, x.prompt
				}
				resp, err := eng.Generate(ctx, req)
				if err != nil {
					return nil, fmt.Errorf("ask %d: %w", i, err)
				}
				st.Asks++
				for _, item := range resp.Items {
					st.Items++
					if match(item.Fields) {
						st.Matching++
					}
				}
			}
		}
	}
	for _, st := range []*eval.AskStats{&rep.MixedWithAsk, &rep.MixedPromptOnly, &rep.MixedWithout, &rep.RecommendWithAsk, &rep.RecommendPromptOnly, &rep.RecommendWithout} {
		if st.Items > 0 {
			st.Share = float64(st.Matching) / float64(st.Items)
		}
	}
	return rep, nil
}
