package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/neo-search/neo/internal/strictjson"
	"github.com/neo-search/neo/internal/textutil"
	"github.com/neo-search/neo/sid"
)

// Item is one catalog entry, as read from items.ndjson and returned by
// Get. Type is a normalised SID type (sid.NormalizeType). SID, when set,
// is the key form of the item's semantic ID ("handbag-12-203-5-0").
type Item struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Brand       string            `json:"brand"`
	Attributes  map[string]string `json:"attributes"`
	Price       float64           `json:"price"`
	InStock     bool              `json:"in_stock"`
	Embedding   []float32         `json:"embedding,omitempty"`
	SID         string            `json:"sid,omitempty"`
}

// ErrInvalidItem is wrapped by every error about an item's content.
var ErrInvalidItem = errors.New("invalid item")

var itemFields = []string{"id", "type", "title", "description", "brand", "attributes", "price", "in_stock", "embedding", "sid"}

// ParseItem reads one items.ndjson record strictly: id and type are
// required, every field must have its documented JSON kind (a price given
// as a string is an error, not a zero), unknown fields are rejected (extra
// data belongs in attributes, whose values are strings), and the type is
// normalised with sid.NormalizeType. A missing in_stock means in stock; a
// missing price is 0. On error the returned Item carries the id when the
// record had a readable one, so callers can report it.
func ParseItem(line []byte) (Item, error) {
	it, err := parseItem(line)
	if err != nil {
		return it, fmt.Errorf("%w: %w", ErrInvalidItem, err)
	}
	return it, nil
}

func parseItem(line []byte) (Item, error) {
	var it Item
	m, err := strictjson.Object(line)
	if err != nil {
		return it, err
	}
	// Read the id first so that every later error can name the item.
	if it.ID, err = strictjson.RequiredStr(m, "id"); err != nil {
		return it, err
	}
	if err := strictjson.CheckFields(m, itemFields...); err != nil {
		return it, err
	}
	if it.Type, err = strictjson.RequiredStr(m, "type"); err != nil {
		return it, err
	}
	if it.Title, _, err = strictjson.Str(m, "title"); err != nil {
		return it, err
	}
	if it.Description, _, err = strictjson.Str(m, "description"); err != nil {
		return it, err
	}
	if it.Brand, _, err = strictjson.Str(m, "brand"); err != nil {
		return it, err
	}
	if it.Attributes, err = attributes(m["attributes"]); err != nil {
		return it, err
	}
	if it.Price, _, err = strictjson.Number(m, "price"); err != nil {
		return it, err
	}
	inStock, ok, err := strictjson.Boolean(m, "in_stock")
	if err != nil {
		return it, err
	}
	it.InStock = inStock || !ok
	if it.Embedding, err = embedding(m["embedding"]); err != nil {
		return it, err
	}
	if it.SID, _, err = strictjson.Str(m, "sid"); err != nil {
		return it, err
	}
	return it, it.normalize()
}

// MaxAttributes and MaxAttributeKey bound an item's attributes: each key
// becomes a field of the index mapping, so one write must not be able to
// add thousands of them.
const (
	MaxAttributes   = 256 // keys per item
	MaxAttributeKey = 128 // bytes per key
)

func attributes(raw json.RawMessage) (map[string]string, error) {
	if raw == nil || strictjson.IsNull(raw) {
		return nil, nil
	}
	if strictjson.KindOf(raw) != "object" {
		return nil, strictjson.FieldError("attributes", "an object of strings", raw)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("field \"attributes\": %s", strictjson.Reason(err))
	}
	if len(m) > MaxAttributes {
		return nil, fmt.Errorf("field \"attributes\": %d keys, the limit is %d", len(m), MaxAttributes)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k == "" || len(k) > MaxAttributeKey {
			return nil, fmt.Errorf("field \"attributes\": key %q: want 1 to %d bytes", clip(k), MaxAttributeKey)
		}
		var s string
		if strictjson.KindOf(v) != "string" || json.Unmarshal(v, &s) != nil {
			return nil, fmt.Errorf("field \"attributes\": value of %q: want a string, got %s", clip(k), strictjson.KindOf(v))
		}
		out[k] = s
	}
	return out, nil
}

func embedding(raw json.RawMessage) ([]float32, error) {
	if raw == nil || strictjson.IsNull(raw) {
		return nil, nil
	}
	if strictjson.KindOf(raw) != "array" {
		return nil, strictjson.FieldError("embedding", "an array of numbers", raw)
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil {
		return nil, fmt.Errorf("field \"embedding\": %s", strictjson.Reason(err))
	}
	out := make([]float32, len(vals))
	for i, v := range vals {
		var f float64
		if strictjson.KindOf(v) != "number" || json.Unmarshal(v, &f) != nil {
			return nil, fmt.Errorf("field \"embedding\": element %d: want a number, got %s", i, strictjson.KindOf(v))
		}
		if math.Abs(f) > math.MaxFloat32 {
			return nil, fmt.Errorf("field \"embedding\": element %d out of float32 range", i)
		}
		out[i] = float32(f)
	}
	return out, nil
}

// normalize checks an item built in Go or parsed from JSON and brings it to
// canonical form: normalised type, SID in key form, empty collections nil.
func (it *Item) normalize() error {
	if strings.TrimSpace(it.ID) == "" {
		return errors.New("field \"id\" is empty")
	}
	typ := sid.NormalizeType(it.Type)
	if typ == "" {
		return fmt.Errorf("field \"type\": %q is not a usable entity type (want letters, digits, spaces, '-' or '_', starting with a letter)", clip(it.Type))
	}
	it.Type = typ
	if math.IsNaN(it.Price) || math.IsInf(it.Price, 0) || it.Price < 0 {
		return fmt.Errorf("field \"price\": %v is not a price (want a number >= 0)", it.Price)
	}
	for k := range it.Attributes {
		if strings.TrimSpace(k) == "" {
			return errors.New("field \"attributes\": empty attribute name")
		}
	}
	if len(it.Attributes) == 0 {
		it.Attributes = nil
	}
	for i, f := range it.Embedding {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("field \"embedding\": element %d is not finite", i)
		}
	}
	if len(it.Embedding) == 0 {
		it.Embedding = nil
	}
	if it.SID != "" {
		s, err := sid.Parse(it.SID)
		if err != nil {
			return fmt.Errorf("field \"sid\": %w", err)
		}
		if len(s.Codes) < 2 {
			return fmt.Errorf("field \"sid\": %s has %d code, want semantic codes and a collision code", s, len(s.Codes))
		}
		if s.Type != it.Type {
			return fmt.Errorf("field \"sid\": %s has type %q but the item is a %q", s, s.Type, it.Type)
		}
		it.SID = s.Key()
	}
	return nil
}

// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 64) }
