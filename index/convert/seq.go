// Package convert turns public dataset layouts into a neo data folder
// (folder.ItemsFile, folder.InteractionsFile, folder.QueriesFile). Seq reads
// the one-user-per-line sequence format of SASRec and S3-Rec;
// ConvertMovieLens reads a GroupLens MovieLens folder (movies, ratings,
// free-text tags as queries).
package convert

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/textutil"
	"github.com/neo-search/neo/sid"
)

// BadLine is a sequence line that was not converted, with its reason.
type BadLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// SeqReport counts what Seq wrote.
type SeqReport struct {
	Users        int       `json:"users"`
	Items        int       `json:"items"`
	Interactions int       `json:"interactions"`
	NoText       int       `json:"items_without_text"`
	TextOnly     int       `json:"items_only_in_text"` // items of the text file no sequence names (written too)
	Bad          []BadLine `json:"bad_lines"`
}

// ParseSeqLine reads one "USER ITEM ITEM ..." line: fields separated by
// white space, at least one item. A blank line is (nil fields, "", nil).
func ParseSeqLine(line string) (user string, items []string, err error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", nil, nil
	}
	if len(f) == 1 {
		return "", nil, fmt.Errorf("user %q has no items", clip(f[0]))
	}
	return f[0], f[1:], nil
}

// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 40) }

type itemText struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// readText reads item text: a JSON object {"ITEM": {"title", "description"}}
// or an items NDJSON file.
func readText(path string) (map[string]index.Item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]index.Item{}
	var m map[string]itemText
	if json.Unmarshal(b, &m) == nil {
		for id, t := range m {
			out[id] = index.Item{ID: id, Title: t.Title, Description: t.Description}
		}
		return out, nil
	}
	items, err := folder.ReadItems(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: neither a JSON map of item text nor items NDJSON: %w", path, err)
	}
	for _, it := range items {
		out[it.ID] = it
	}
	return out, nil
}

// Seq converts a sequence file (and optional item text) into out. Events
// get increasing timestamps in line order, so each user's items keep their
// order, and no split field: neo's leave-last-out split applies. Every
// item a sequence names is written; one without text gets its id as title
// ("item ID") and is counted in NoText. typ is the items' entity type.
func Seq(seqPath, textPath, out, typ string) (*SeqReport, error) {
	typ = sid.NormalizeType(typ)
	if typ == "" {
		return nil, fmt.Errorf("--type: not a usable entity type")
	}
	text := map[string]index.Item{}
	if textPath != "" {
		var err error
		if text, err = readText(textPath); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(seqPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	rep := &SeqReport{Bad: []BadLine{}}
	var order []string
	seen := map[string]bool{}
	var inter bytes.Buffer
	enc := json.NewEncoder(&inter)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	users := map[string]bool{}
	ts := int64(0)
	for n := 1; sc.Scan(); n++ {
		u, items, err := ParseSeqLine(sc.Text())
		if err != nil {
			rep.Bad = append(rep.Bad, BadLine{n, err.Error()})
			continue
		}
		if u == "" {
			continue
		}
		if users[u] {
			rep.Bad = append(rep.Bad, BadLine{n, fmt.Sprintf("user %q already had a line; its events are appended", clip(u))})
		}
		users[u] = true
		for _, it := range items {
			if !seen[it] {
				seen[it] = true
				order = append(order, it)
			}
			ts++
			if err := enc.Encode(folder.Interaction{User: u, Item: it, TS: ts, Event: "interaction"}); err != nil {
				return nil, err
			}
			rep.Interactions++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", seqPath, err)
	}
	rep.Users = len(users)
	for id := range text {
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
			rep.TextOnly++
		}
	}
	var items []index.Item
	for _, id := range order {
		it, ok := text[id]
		it.ID, it.Type, it.InStock = id, typ, true
		if !ok || strings.TrimSpace(it.Title+it.Description) == "" {
			rep.NoText++
		}
		if strings.TrimSpace(it.Title) == "" {
			it.Title = "item " + id
		}
		items = append(items, it)
	}
	rep.Items = len(items)
	var ib bytes.Buffer
	if err := folder.WriteNDJSON(&ib, items); err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{folder.ItemsFile: ib.Bytes(), folder.InteractionsFile: inter.Bytes()} {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	return rep, nil
}
