package trainrun

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"time"

	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/plugin/eval"
	"github.com/neo-search/neo/plugin/eval/neoeval"
)

// Evaluate is the second half of `neo eval --train`: the baselines and
// each arm Run trained (in the blocks it was trained for) on ds, with
// only naming the methods to keep (all when empty). After a cold-start
// run the data is as Cold leaves it, the new items are written into each
// arm's catalog first and the cases of new-item targets are reported
// apart. It fills the report's fusion and
// tr's evaluation figures (decode speed per arm, new items coded).
func Evaluate(ctx context.Context, ds *folder.Folder, tr *Report, work, only string, opt eval.Options, neo neoeval.Options) (*eval.Report, error) {
	t0 := time.Now()
	if tr.fresh != nil {
		ds = ds.Cold(tr.fresh)
		opt.New, neo.New = tr.fresh, tr.fresh
		neo.Quantizer = filepath.Join(work, IndexDir)
		neo.Coded = func(coded, failed int) { tr.NewCoded, tr.NewUncoded = coded, failed }
	}
	used := map[string]any{}
	rep, err := eval.RunMethods(ctx, ds, only, opt, func(m *eval.Methods, kit *eval.Kit) (func(), error) {
		return addArms(ctx, ds, kit, tr.Arms, m, neo, used)
	})
	if err != nil {
		return nil, err
	}
	if len(used) > 0 {
		rep.Fusion = used
	}
	tr.EvalSeconds = time.Since(t0).Seconds()
	return rep, nil
}

// addArms opens each trained arm's model over the data set's items and
// adds it to the blocks it was trained for, recording the fusion of the
// entries in used. The cleanup records the arms' decode statistics, then
// closes the engines.
func addArms(ctx context.Context, ds *folder.Folder, kit *eval.Kit, arms []*ArmInfo, m *eval.Methods, o neoeval.Options, used map[string]any) (func(), error) {
	var opened []*neoeval.Method
	var infos []*ArmInfo
	cleanup := func() {
		for i, nm := range opened {
			dec, _ := nm.Engine().DecodeStats()
			if n := nm.Engine().TokensDecoded(); n > 0 {
				infos[i].TokensDecoded = n
				infos[i].DecodeMSPerToken = float64(dec) / float64(time.Millisecond) / float64(n)
			}
			nm.Close()
		}
	}
	for _, a := range arms {
		nm, u, err := neoeval.Add(ctx, ds, kit, a.ModelDir, a.Method, a.Spec.Search, a.Spec.Recommend, m, o)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("arm %s: %w", a.Arm, err)
		}
		maps.Copy(used, u)
		opened, infos = append(opened, nm), append(infos, a)
	}
	return cleanup, nil
}
