package folder

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/neo-search/neo/index"
)

// Folder is a data folder, loaded whole (docs/CONTRACTS.md): what the
// evaluation, the trainer's pipeline and the benchmarks read.
type Folder struct {
	Name string // folder base name, e.g. "demo"
	Dir  string

	// Items are read with ReadItems (types normalised as in the
	// catalog; a missing in_stock means in stock).
	Items []index.Item
	// Interactions and Queries are as read, Split defaulted to "train".
	Interactions []Interaction
	Queries      []Query
	// HasInteractions / HasQueries are false when the file is missing.
	HasInteractions bool
	HasQueries      bool
	// Split says whether the interactions kept their own split fields or
	// were split leave-last-out (SplitLeaveLastOut), with counts.
	Split SplitReport

	byID map[string]int
}

// Load reads a data folder: items.ndjson (required),
// interactions.ndjson and queries.ndjson (optional).
func Load(dir string) (*Folder, error) {
	ds := &Folder{Name: filepath.Base(filepath.Clean(dir)), Dir: dir}
	f, err := os.Open(filepath.Join(dir, ItemsFile))
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %w", dir, err)
	}
	ds.Items, err = ReadItems(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ItemsFile), err)
	}
	ds.byID = make(map[string]int, len(ds.Items))
	for i, it := range ds.Items {
		if _, dup := ds.byID[it.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate item id %q", filepath.Join(dir, ItemsFile), it.ID)
		}
		ds.byID[it.ID] = i
	}
	open := func(name string) (*os.File, bool, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return f, err == nil, err
	}
	if f, ok, err := open(InteractionsFile); err != nil {
		return nil, err
	} else if ok {
		ds.Interactions, err = ReadInteractions(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, InteractionsFile), err)
		}
		ds.HasInteractions = true
		// a log without split fields is split leave-last-out per user
		ds.Split = SplitLeaveLastOut(ds.Interactions)
		for i := range ds.Interactions {
			if ds.Interactions[i].Split == "" {
				ds.Interactions[i].Split = "train"
			}
		}
	}
	if f, ok, err := open(QueriesFile); err != nil {
		return nil, err
	} else if ok {
		ds.Queries, err = ReadQueries(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, QueriesFile), err)
		}
		ds.HasQueries = true
		for i := range ds.Queries {
			if ds.Queries[i].Split == "" {
				ds.Queries[i].Split = "train"
			}
		}
	}
	return ds, nil
}

// Item returns the item with the given id.
func (ds *Folder) Item(id string) (index.Item, bool) {
	i, ok := ds.byID[id]
	if !ok {
		return index.Item{}, false
	}
	return ds.Items[i], true
}

// Train returns the interactions of split "train".
func (ds *Folder) Train() []Interaction {
	var out []Interaction
	for _, x := range ds.Interactions {
		if x.Split == "train" {
			out = append(out, x)
		}
	}
	return out
}

// QueriesOf returns the queries of one split ("train" or "test").
func (ds *Folder) QueriesOf(split string) []Query {
	var out []Query
	for _, q := range ds.Queries {
		if q.Split == split {
			out = append(out, q)
		}
	}
	return out
}

// RecommendCase is one next-item case: the user's earlier items ordered by
// time (oldest first), the held-out target item and the target's type (what
// a method is asked for).
type RecommendCase struct {
	User    string
	History []string
	Target  string
	Type    string
}

// CasesOf returns one case per interaction of split ("test" or "valid")
// whose item is in the catalog, users in order of first appearance. For
// "test" the history is the user's train+valid events, for "valid" the
// train events (docs/CONTRACTS.md). dropped counts target interactions
// whose item is not in the catalog.
func (ds *Folder) CasesOf(split string) (cases []RecommendCase, dropped int) {
	type ev struct {
		item string
		ts   int64
		pos  int
	}
	hist := map[string][]ev{}
	targets := map[string][]ev{}
	seen := map[string]bool{}
	var users []string
	for i, x := range ds.Interactions {
		if !seen[x.User] {
			seen[x.User] = true
			users = append(users, x.User)
		}
		e := ev{x.Item, x.TS, i}
		switch {
		case x.Split == split:
			targets[x.User] = append(targets[x.User], e)
		case x.Split == "train" || (split == "test" && x.Split == "valid"):
			hist[x.User] = append(hist[x.User], e)
		}
	}
	for _, u := range users {
		h := hist[u]
		slices.SortStableFunc(h, func(a, b ev) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.pos, b.pos)) })
		ids := make([]string, len(h))
		for i, e := range h {
			ids[i] = e.item
		}
		for _, t := range targets[u] {
			it, ok := ds.Item(t.item)
			if !ok {
				dropped++
				continue
			}
			cases = append(cases, RecommendCase{User: u, History: ids, Target: t.item, Type: it.Type})
		}
	}
	return cases, dropped
}

// Cold returns the folder as a cold-start run sees it: the items named
// in fresh were added after training, so every train interaction and train
// query that names one is gone (no model, baseline or prior learns from
// them). Valid and test records stay: they are what happened after the
// items arrived, and their targets may be new items.
func (ds *Folder) Cold(fresh map[string]bool) *Folder {
	out := *ds
	out.Interactions = nil
	for _, x := range ds.Interactions {
		if x.Split == SplitTrain && fresh[x.Item] {
			continue
		}
		out.Interactions = append(out.Interactions, x)
	}
	out.Queries = nil
	for _, q := range ds.Queries {
		if q.Split == SplitTrain && slices.ContainsFunc(q.Relevant, func(r Relevance) bool { return fresh[r.Item] }) {
			continue
		}
		out.Queries = append(out.Queries, q)
	}
	return &out
}
