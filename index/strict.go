package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/neo-search/neo/internal/textutil"
)

// Strict decoding of NDJSON records. encoding/json silently coerces or
// drops what does not fit (unknown fields, null for a number), so every
// record is first split into raw fields and each field is then checked
// against the kind it must have, giving errors a person can act on.

// object splits one JSON object into its raw fields.
func object(line []byte) (map[string]json.RawMessage, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, fmt.Errorf("empty record")
	}
	if line[0] != '{' {
		if !json.Valid(line) {
			return nil, fmt.Errorf("invalid JSON: want one object per line")
		}
		return nil, fmt.Errorf("record is a JSON %s, want an object", kindOf(line))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %s", jsonReason(err))
	}
	return m, nil
}

// jsonReason strips encoding/json's "json: " prefix.
func jsonReason(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// kindOf names the JSON kind of a raw value.
func kindOf(raw []byte) string {
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

func isNull(raw json.RawMessage) bool { return kindOf(raw) == "null" }

// checkFields checks a record's field names against the allowed ones.
func checkFields(m map[string]json.RawMessage, allowed ...string) error {
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

// fieldError describes a field whose value has the wrong kind.
func fieldError(name, want string, raw json.RawMessage) error {
	return fmt.Errorf("field %q: want %s, got %s", name, want, kindOf(raw))
}

// str decodes an optional string field; null counts as absent.
func str(m map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	var s string
	if kindOf(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return "", false, fieldError(name, "a string", raw)
	}
	return s, true, nil
}

// requiredStr decodes a string field that must be present and not blank.
func requiredStr(m map[string]json.RawMessage, name string) (string, error) {
	s, ok, err := str(m, name)
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

// number decodes an optional finite number field.
func number(m map[string]json.RawMessage, name string) (float64, bool, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	var f float64
	if kindOf(raw) != "number" {
		return 0, false, fieldError(name, "a number", raw)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false, fmt.Errorf("field %q: %s", name, jsonReason(err))
	}
	return f, true, nil
}

// integer decodes an optional integer field (no fraction, no exponent).
func integer(m map[string]json.RawMessage, name string) (int64, bool, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	if kindOf(raw) != "number" {
		return 0, false, fieldError(name, "an integer", raw)
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("field %q: want an integer, got %s", name, clip(string(raw)))
	}
	return n, true, nil
}

// boolean decodes an optional boolean field.
func boolean(m map[string]json.RawMessage, name string) (bool, bool, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return false, false, nil
	}
	var b bool
	if kindOf(raw) != "boolean" || json.Unmarshal(raw, &b) != nil {
		return false, false, fieldError(name, "true or false", raw)
	}
	return b, true, nil
}

// split checks a record's split, defaulting to "train".
func split(m map[string]json.RawMessage) (string, error) {
	s, ok, err := str(m, "split")
	if err != nil || !ok || s == "" {
		return SplitTrain, err
	}
	switch s {
	case SplitTrain, SplitValid, SplitTest:
		return s, nil
	}
	return "", fmt.Errorf("field \"split\": %q is not one of train, valid, test", clip(s))
}

// clip shortens s for an error message.
// clip quotes input briefly in error messages.
func clip(s string) string { return textutil.Clip(s, 64) }
