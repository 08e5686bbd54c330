package index

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/neo-search/neo/internal/recordtest"
)

func TestParseItem(t *testing.T) {
	good := []struct {
		name, line string
		want       Item
	}{
		{"full", `{"id":"sku-1","type":"Hand Bag","title":"T","description":"D","brand":"B","attributes":{"color":"gold"},"price":129.5,"in_stock":false,"embedding":[1,-2.5],"sid":"[SID:hand_bag-1-2-0]"}`,
			Item{ID: "sku-1", Type: "hand_bag", Title: "T", Description: "D", Brand: "B", Attributes: map[string]string{"color": "gold"}, Price: 129.5, Embedding: []float32{1, -2.5}, SID: "hand_bag-1-2-0"}},
		{"minimal defaults in stock", `{"id":"a","type":"ring"}`, Item{ID: "a", Type: "ring", InStock: true}},
		{"nulls are absent", `{"id":"a","type":"ring","price":null,"in_stock":null,"attributes":null,"embedding":null,"sid":null}`, Item{ID: "a", Type: "ring", InStock: true}},
		{"empty collections", `{"id":"a","type":"ring","attributes":{},"embedding":[]}`, Item{ID: "a", Type: "ring", InStock: true}},
		{"surrounding space", " \t{\"id\":\"a\",\"type\":\"ring\"} \r", Item{ID: "a", Type: "ring", InStock: true}},
	}
	good = append(good, struct {
		name, line string
		want       Item
	}{"attributes at the limit", `{"id":"a","type":"ring","attributes":{` + manyKeys(MaxAttributes) + `}}`, Item{ID: "a", Type: "ring", InStock: true, Attributes: keysMap(MaxAttributes)}})
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseItem([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	bad := []struct {
		name, line, reason, id string
	}{
		{"not json", `{"id":`, "invalid JSON", ""},
		{"array", `[1,2]`, "record is a JSON array, want an object", ""},
		{"trailing garbage", `{"id":"a","type":"ring"} x`, "invalid JSON", ""},
		{"missing id", `{"type":"ring"}`, `missing field "id"`, ""},
		{"empty id", `{"id":"  ","type":"ring"}`, `field "id" is empty`, ""},
		{"numeric id", `{"id":7,"type":"ring"}`, `field "id": want a string, got number`, ""},
		{"missing type", `{"id":"a"}`, `missing field "type"`, "a"},
		{"garbage type", `{"id":"a","type":"!!!"}`, `field "type": "!!!" is not a usable entity type`, "a"},
		{"price as string", `{"id":"a","type":"ring","price":"12"}`, `field "price": want a number, got string`, "a"},
		{"negative price", `{"id":"a","type":"ring","price":-1}`, `field "price": -1 is not a price`, "a"},
		{"in_stock as string", `{"id":"a","type":"ring","in_stock":"yes"}`, `field "in_stock": want true or false, got string`, "a"},
		{"attribute number", `{"id":"a","type":"ring","attributes":{"size":7}}`, `value of "size": want a string, got number`, "a"},
		{"attributes array", `{"id":"a","type":"ring","attributes":["x"]}`, `field "attributes": want an object of strings, got array`, "a"},
		{"embedding string", `{"id":"a","type":"ring","embedding":"1,2"}`, `field "embedding": want an array of numbers, got string`, "a"},
		{"embedding element", `{"id":"a","type":"ring","embedding":[1,"x"]}`, `element 1: want a number, got string`, "a"},
		{"embedding overflow", `{"id":"a","type":"ring","embedding":[1e300]}`, `out of float32 range`, "a"},
		{"unknown field", `{"id":"a","type":"ring","colour":"red"}`, `unknown field "colour"`, "a"},
		{"bad sid", `{"id":"a","type":"ring","sid":"ring-x"}`, `field "sid"`, "a"},
		{"sid of other type", `{"id":"a","type":"ring","sid":"watch-1-2-0"}`, `has type "watch" but the item is a "ring"`, "a"},
		{"sid too short", `{"id":"a","type":"ring","sid":"ring-1"}`, `want semantic codes and a collision code`, "a"},
		{"too many attributes", `{"id":"a","type":"ring","attributes":{` + manyKeys(MaxAttributes+1) + `}}`, `257 keys, the limit is 256`, "a"},
		{"empty attribute key", `{"id":"a","type":"ring","attributes":{"":"x"}}`, `want 1 to 128 bytes`, "a"},
		{"long attribute key", `{"id":"a","type":"ring","attributes":{"` + strings.Repeat("k", MaxAttributeKey+1) + `":"x"}}`, `want 1 to 128 bytes`, "a"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			it, err := ParseItem([]byte(tc.line))
			if err == nil {
				t.Fatalf("no error, got %+v", it)
			}
			if !errors.Is(err, ErrInvalidItem) {
				t.Errorf("error %v does not wrap ErrInvalidItem", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not mention %q", err, tc.reason)
			}
			if it.ID != tc.id {
				t.Errorf("id %q, want %q", it.ID, tc.id)
			}
		})
	}
}

// FuzzParseItem checks that ParseItem never panics and that what it
// accepts survives a JSON round trip unchanged.
func FuzzParseItem(f *testing.F) {
	f.Add([]byte(`{"id":"sku-1","type":"handbag","title":"Tote","attributes":{"color":"gold"},"price":12.5,"in_stock":true,"embedding":[0.5],"sid":"handbag-1-2-0"}`))
	f.Add([]byte(`{"id":"a","type":"Hand Bag","price":"1"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		it, err := ParseItem(line)
		if err != nil {
			return
		}
		if it.ID == "" || it.Type == "" {
			t.Fatalf("accepted item without id or type: %+v", it)
		}
		recordtest.RoundTrip(t, it, ParseItem)
	})
}

// manyKeys is n attribute pairs "k0":"v",... as JSON object members.
func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%q:\"v\"", fmt.Sprint("k", i))
	}
	return strings.Join(parts, ",")
}

func keysMap(n int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		m[fmt.Sprint("k", i)] = "v"
	}
	return m
}
