// Package strictjson decodes JSON records field by field, for the NDJSON
// files and request bodies whose mistakes a person must be able to act on.
// encoding/json silently coerces or drops what does not fit (unknown
// fields, null for a number), so a record is first split into raw fields
// (Object) and each field is then checked against the kind it must have.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/neo-search/neo/internal/textutil"
)

// Object splits one JSON object into its raw fields.
func Object(line []byte) (map[string]json.RawMessage, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, fmt.Errorf("empty record")
	}
	if line[0] != '{' {
		if !json.Valid(line) {
			return nil, fmt.Errorf("invalid JSON: want one object per line")
		}
		return nil, fmt.Errorf("record is a JSON %s, want an object", KindOf(line))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %s", Reason(err))
	}
	return m, nil
}

// Reason strips encoding/json's "json: " prefix.
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// KindOf names the JSON kind of a raw value.
func KindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func IsNull(raw json.RawMessage) bool { return KindOf(raw) == "null" }

// CheckFields checks a record's field names against the allowed ones.
func CheckFields(m map[string]json.RawMessage, allowed ...string) error {
	var unknown []string
	for k := range m {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("unknown field %s (allowed: %s)", strings.Join(unknown, ", "), strings.Join(allowed, ", "))
}

// FieldError describes a field whose value has the wrong kind.
func FieldError(name, want string, raw json.RawMessage) error {
	return fmt.Errorf("field %q: want %s, got %s", name, want, KindOf(raw))
}

// Str decodes an optional string field; null counts as absent.
func Str(m map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := m[name]
	if !ok || IsNull(raw) {
		return "", false, nil
	}
	var s string
	if KindOf(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return "", false, FieldError(name, "a string", raw)
	}
	return s, true, nil
}

// RequiredStr decodes a string field that must be present and not blank.
func RequiredStr(m map[string]json.RawMessage, name string) (string, error) {
	s, ok, err := Str(m, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("missing field %q", name)
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("field %q is empty", name)
	}
	return s, nil
}

// Number decodes an optional finite number field.
func Number(m map[string]json.RawMessage, name string) (float64, bool, error) {
	raw, ok := m[name]
	if !ok || IsNull(raw) {
		return 0, false, nil
	}
	var f float64
	if KindOf(raw) != "number" {
		return 0, false, FieldError(name, "a number", raw)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false, fmt.Errorf("field %q: %s", name, Reason(err))
	}
	return f, true, nil
}

// Integer decodes an optional integer field (no fraction, no exponent).
func Integer(m map[string]json.RawMessage, name string) (int64, bool, error) {
	raw, ok := m[name]
	if !ok || IsNull(raw) {
		return 0, false, nil
	}
	if KindOf(raw) != "number" {
		return 0, false, FieldError(name, "an integer", raw)
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("field %q: want an integer, got %s", name, textutil.Clip(string(raw), 64))
	}
	return n, true, nil
}

// Boolean decodes an optional boolean field.
func Boolean(m map[string]json.RawMessage, name string) (bool, bool, error) {
	raw, ok := m[name]
	if !ok || IsNull(raw) {
		return false, false, nil
	}
	var b bool
	if KindOf(raw) != "boolean" || json.Unmarshal(raw, &b) != nil {
		return false, false, FieldError(name, "true or false", raw)
	}
	return b, true, nil
}
