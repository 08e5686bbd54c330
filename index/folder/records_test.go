package folder

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/internal/recordtest"
)

func TestReadInteractions(t *testing.T) {
	t.Run("good", func(t *testing.T) {
		in := "\xef\xbb\xbf" + `{"user":"u1","item":"sku-1","ts":1700000000,"event":"view"}` + "\n\n" +
			`{"user":"u1","item":"sku-2","ts":1700000060,"event":"purchase","split":"test"}` + "\r\n"
		got, err := ReadInteractions(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		want := []Interaction{
			{User: "u1", Item: "sku-1", TS: 1700000000, Event: "view", Split: SplitTrain},
			{User: "u1", Item: "sku-2", TS: 1700000060, Event: "purchase", Split: SplitTest},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v", got)
		}
	})
	bad := []struct{ name, line, reason string }{
		{"ts as string", `{"user":"u","item":"i","ts":"1700000000","event":"view"}`, `field "ts": want an integer, got string`},
		{"fractional ts", `{"user":"u","item":"i","ts":1.5,"event":"view"}`, `want an integer`},
		{"missing ts", `{"user":"u","item":"i","event":"view"}`, `missing field "ts"`},
		{"missing user", `{"item":"i","ts":1,"event":"view"}`, `missing field "user"`},
		{"empty event", `{"user":"u","item":"i","ts":1,"event":""}`, `field "event" is empty`},
		{"bad split", `{"user":"u","item":"i","ts":1,"event":"view","split":"dev"}`, `"dev" is not one of train, valid, test`},
		{"unknown field", `{"user":"u","item":"i","ts":1,"event":"view","rating":5}`, `unknown field "rating"`},
		{"not json", `user,item`, `invalid JSON`},
		{"not an object", `[1]`, `record is a JSON array, want an object`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"user":"u","item":"i","ts":1,"event":"view"}` + "\n\n" + tc.line + "\n"
			got, err := ReadInteractions(strings.NewReader(in))
			var le *index.LineError
			if !errors.As(err, &le) || le.Line != 3 || !strings.Contains(le.Reason, tc.reason) {
				t.Fatalf("err = %v, want line 3: ~%q", err, tc.reason)
			}
			if len(got) != 1 {
				t.Fatalf("%d records before the bad line, want 1", len(got))
			}
		})
	}
}

func TestReadQueries(t *testing.T) {
	t.Run("good", func(t *testing.T) {
		in := `{"query":"golden bangle","type":"Bracelet","relevant":[{"item":"a","grade":2},{"item":"b","grade":1}],"split":"test"}` + "\n" +
			`{"query":"tote","relevant":[{"item":"c","grade":2}],"kind":"literal"}`
		got, err := ReadQueries(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		want := []Query{
			{Query: "golden bangle", Type: "bracelet", Relevant: []Relevance{{"a", 2}, {"b", 1}}, Split: SplitTest},
			{Query: "tote", Relevant: []Relevance{{"c", 2}}, Split: SplitTrain, Kind: KindLiteral},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v", got)
		}
	})
	bad := []struct{ name, line, reason string }{
		{"missing query", `{"relevant":[{"item":"a","grade":1}]}`, `missing field "query"`},
		{"no relevant", `{"query":"q"}`, `missing field "relevant"`},
		{"empty relevant", `{"query":"q","relevant":[]}`, `field "relevant" is empty`},
		{"relevant object", `{"query":"q","relevant":{"item":"a"}}`, `field "relevant": want an array, got object`},
		{"grade as string", `{"query":"q","relevant":[{"item":"a","grade":"2"}]}`, `element 0: field "grade": want an integer, got string`},
		{"negative grade", `{"query":"q","relevant":[{"item":"a","grade":-1}]}`, `out of range`},
		{"missing grade", `{"query":"q","relevant":[{"item":"a"}]}`, `missing field "grade"`},
		{"element not object", `{"query":"q","relevant":["a"]}`, `element 0: want an object, got string`},
		{"duplicate item", `{"query":"q","relevant":[{"item":"a","grade":1},{"item":"a","grade":2}]}`, `item "a" listed twice`},
		{"garbage type", `{"query":"q","type":"--","relevant":[{"item":"a","grade":1}]}`, `not a usable entity type`},
		{"kind not a word", `{"query":"q","relevant":[{"item":"a","grade":1}],"kind":"Lit eral"}`, `field "kind": "Lit eral" is not a lowercase word`},
		{"kind a number", `{"query":"q","relevant":[{"item":"a","grade":1}],"kind":3}`, `field "kind"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadQueries(strings.NewReader("\n" + tc.line))
			var le *index.LineError
			if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(le.Reason, tc.reason) {
				t.Fatalf("err = %v, want line 2: ~%q", err, tc.reason)
			}
		})
	}
}

func TestReadItems(t *testing.T) {
	_, err := ReadItems(strings.NewReader(`{"id":"a","type":"ring"}` + "\n" + `{"id":"b","type":"ring","price":"x"}`))
	var le *index.LineError
	if !errors.As(err, &le) || le.Line != 2 || le.ID != "b" {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteNDJSON(t *testing.T) {
	qs := []Query{{Query: "rings & things <3", Relevant: []Relevance{{"a", 2}}, Split: SplitTrain}}
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, qs); err != nil {
		t.Fatal(err)
	}
	if want := `{"query":"rings & things <3","relevant":[{"item":"a","grade":2}],"split":"train"}` + "\n"; buf.String() != want {
		t.Fatalf("got %q", buf.String())
	}
	got, err := ReadQueries(&buf)
	if err != nil || !reflect.DeepEqual(got, qs) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

func FuzzParseInteraction(f *testing.F) {
	f.Add([]byte(`{"user":"u1","item":"sku-1","ts":1700000000,"event":"view","split":"valid"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := ParseInteraction(line)
		if err != nil {
			return
		}
		if in.User == "" || in.Item == "" || in.Event == "" || in.Split == "" {
			t.Fatalf("accepted incomplete record %+v", in)
		}
		recordtest.RoundTrip(t, in, ParseInteraction)
	})
}

func FuzzParseQuery(f *testing.F) {
	f.Add([]byte(`{"query":"golden bangle","type":"bracelet","relevant":[{"item":"a","grade":2}],"split":"test"}`))
	f.Add([]byte(`{"query":"red scarf","relevant":[{"item":"a","grade":1}],"split":"valid","kind":"literal"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		q, err := ParseQuery(line)
		if err != nil {
			return
		}
		if q.Query == "" || len(q.Relevant) == 0 || q.Split == "" {
			t.Fatalf("accepted incomplete record %+v", q)
		}
		recordtest.RoundTrip(t, q, ParseQuery)
	})
}
