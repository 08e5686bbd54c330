package folder

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/internal/strictjson"
	"github.com/neo-search/neo/internal/textutil"
	"github.com/neo-search/neo/sid"
)

// Splits of interactions and queries (docs/CONTRACTS.md).
const (
	SplitTrain = "train"
	SplitValid = "valid"
	SplitTest  = "test"
)

// IsTrain reports whether a record's split is train: an empty split is
// train (the default of every record with a split).
func IsTrain(split string) bool { return split == "" || split == SplitTrain }

// Interaction is one interactions.ndjson record: a user's event on an item
// at a Unix time in seconds. Split defaults to "train".
type Interaction struct {
	User  string `json:"user"`
	Item  string `json:"item"`
	TS    int64  `json:"ts"`
	Event string `json:"event"`
	Split string `json:"split,omitempty"`
}

// Query is one queries.ndjson record: a search query with graded relevant
// items (higher grade = more relevant). Type, when set, is the entity type
// asked for. Split defaults to "train". Kind, when set, names the kind of
// query for the evaluation's subsets: "literal" (in the catalog's own
// words) or "paraphrase"; any other lowercase word is allowed too.
type Query struct {
	Query    string      `json:"query"`
	Type     string      `json:"type,omitempty"`
	Relevant []Relevance `json:"relevant"`
	Split    string      `json:"split,omitempty"`
	Kind     string      `json:"kind,omitempty"`
}

// Query kinds of the demo's queries.
const (
	KindLiteral    = "literal"
	KindParaphrase = "paraphrase"
)

// Relevance is one labelled item of a Query.
type Relevance struct {
	Item  string `json:"item"`
	Grade int    `json:"grade"`
}

// MaxGrade bounds relevance grades.
const MaxGrade = 100

// ParseInteraction reads one interactions.ndjson record strictly: user,
// item and event are required non-empty strings, ts a required integer,
// split one of train, valid, test; unknown fields are errors.
func ParseInteraction(line []byte) (Interaction, error) {
	var in Interaction
	m, err := strictjson.Object(line)
	if err != nil {
		return in, err
	}
	if err := strictjson.CheckFields(m, "user", "item", "ts", "event", "split"); err != nil {
		return in, err
	}
	if in.User, err = strictjson.RequiredStr(m, "user"); err != nil {
		return in, err
	}
	if in.Item, err = strictjson.RequiredStr(m, "item"); err != nil {
		return in, err
	}
	ts, ok, err := strictjson.Integer(m, "ts")
	if err != nil {
		return in, err
	}
	if !ok {
		return in, errors.New("missing field \"ts\"")
	}
	in.TS = ts
	if in.Event, err = strictjson.RequiredStr(m, "event"); err != nil {
		return in, err
	}
	in.Split, err = split(m)
	return in, err
}

// ParseQuery reads one queries.ndjson record strictly: query is a
// required non-empty string, type an optional entity type (normalised with
// sid.NormalizeType), relevant a non-empty list of distinct items with
// integer grades in 0..MaxGrade, split train, valid or test.
func ParseQuery(line []byte) (Query, error) {
	var q Query
	m, err := strictjson.Object(line)
	if err != nil {
		return q, err
	}
	if err := strictjson.CheckFields(m, "query", "type", "relevant", "split", "kind"); err != nil {
		return q, err
	}
	if k, ok, err := strictjson.Str(m, "kind"); err != nil {
		return q, err
	} else if ok && k != "" {
		if !isKindWord(k) {
			return q, fmt.Errorf("field \"kind\": %q is not a lowercase word (a-z, _; at most 32)", clip(k))
		}
		q.Kind = k
	}
	if q.Query, err = strictjson.RequiredStr(m, "query"); err != nil {
		return q, err
	}
	if t, ok, err := strictjson.Str(m, "type"); err != nil {
		return q, err
	} else if ok && t != "" {
		if q.Type = sid.NormalizeType(t); q.Type == "" {
			return q, fmt.Errorf("field \"type\": %q is not a usable entity type", clip(t))
		}
	}
	raw, ok := m["relevant"]
	if !ok || strictjson.IsNull(raw) {
		return q, errors.New("missing field \"relevant\"")
	}
	if strictjson.KindOf(raw) != "array" {
		return q, strictjson.FieldError("relevant", "an array", raw)
	}
	var rels []json.RawMessage
	if err := json.Unmarshal(raw, &rels); err != nil {
		return q, fmt.Errorf("field \"relevant\": %s", strictjson.Reason(err))
	}
	if len(rels) == 0 {
		return q, errors.New("field \"relevant\" is empty")
	}
	seen := make(map[string]bool, len(rels))
	for i, r := range rels {
		rel, err := parseRelevance(r)
		if err != nil {
			return q, fmt.Errorf("field \"relevant\": element %d: %w", i, err)
		}
		if seen[rel.Item] {
			return q, fmt.Errorf("field \"relevant\": item %q listed twice", clip(rel.Item))
		}
		seen[rel.Item] = true
		q.Relevant = append(q.Relevant, rel)
	}
	q.Split, err = split(m)
	return q, err
}

func isKindWord(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

func parseRelevance(raw []byte) (Relevance, error) {
	var r Relevance
	if strictjson.KindOf(raw) != "object" {
		return r, fmt.Errorf("want an object, got %s", strictjson.KindOf(raw))
	}
	m, err := strictjson.Object(raw)
	if err != nil {
		return r, err
	}
	if err := strictjson.CheckFields(m, "item", "grade"); err != nil {
		return r, err
	}
	if r.Item, err = strictjson.RequiredStr(m, "item"); err != nil {
		return r, err
	}
	g, ok, err := strictjson.Integer(m, "grade")
	if err != nil {
		return r, err
	}
	if !ok {
		return r, errors.New("missing field \"grade\"")
	}
	if g < 0 || g > MaxGrade {
		return r, fmt.Errorf("field \"grade\": %d out of range 0..%d", g, MaxGrade)
	}
	r.Grade = int(g)
	return r, nil
}

// ReadInteractions reads an interactions.ndjson stream, skipping blank
// lines. The first bad line stops it with a *LineError.
func ReadInteractions(r io.Reader) ([]Interaction, error) {
	return readAll(r, ParseInteraction)
}

// ReadQueries reads a queries.ndjson stream, skipping blank lines. The
// first bad line stops it with a *LineError.
func ReadQueries(r io.Reader) ([]Query, error) {
	return readAll(r, ParseQuery)
}

// ReadItems reads an items.ndjson stream, skipping blank lines. The first
// bad line stops it with a *LineError; use Catalog.Import to skip bad
// lines instead.
func ReadItems(r io.Reader) ([]index.Item, error) {
	return readAll(r, func(line []byte) (index.Item, error) {
		it, err := index.ParseItem(line)
		if err != nil { // the line error says the record is bad already
			err = errors.New(strings.TrimPrefix(err.Error(), index.ErrInvalidItem.Error()+": "))
		}
		return it, err
	})
}

func readAll[T any](r io.Reader, parse func([]byte) (T, error)) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), index.MaxLineBytes)
	var out []T
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 {
			continue
		}
		v, err := parse(line)
		if err != nil {
			return out, &index.LineError{Line: n, ID: recordID(v), Reason: err.Error()}
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return out, &index.LineError{Line: n + 1, Reason: fmt.Sprintf("longer than %d bytes", index.MaxLineBytes)}
		}
		return out, err
	}
	return out, nil
}

// recordID is the id a LineError names: an item's id.
func recordID(v any) string {
	if it, ok := v.(index.Item); ok {
		return it.ID
	}
	return ""
}

// WriteNDJSON writes records as NDJSON, one compact JSON object per line,
// without HTML escaping. Map keys come out sorted, so equal records give
// equal bytes.
func WriteNDJSON[T any](w io.Writer, records []T) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range records {
		if err := enc.Encode(&records[i]); err != nil {
			return fmt.Errorf("folder: record %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// split checks a record's split, defaulting to "train".
func split(m map[string]json.RawMessage) (string, error) {
	s, ok, err := strictjson.Str(m, "split")
	if err != nil || !ok || s == "" {
		return SplitTrain, err
	}
	switch s {
	case SplitTrain, SplitValid, SplitTest:
		return s, nil
	}
	return "", fmt.Errorf("field \"split\": %q is not one of train, valid, test", clip(s))
}

// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 64) }
