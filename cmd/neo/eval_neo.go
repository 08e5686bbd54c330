package main

import (
	"context"

	"github.com/neo-search/neo/plugin/eval"
)

// neoMethods is the hook through which `neo eval` measures the model as
// method "neo". TODO(lead): load the model (and the catalog of ds) and
// return its searcher and recommender. A nil value means the task is run
// without a "neo" entry; an error aborts the evaluation.
func neoMethods(ctx context.Context, ds *eval.Dataset) (eval.Searcher, eval.Recommender, error) {
	return nil, nil, nil
}
