// Package recordtest holds test helpers for the strict record parsers
// (index.ParseItem, folder.ParseInteraction, folder.ParseQuery); only tests
// import it.
package recordtest

import (
	"encoding/json"
	"reflect"
	"testing"
)

// RoundTrip checks that a record a parser accepted is read back unchanged
// after encoding/json writes it.
func RoundTrip[T any](t testing.TB, v T, parse func([]byte) (T, error)) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	again, err := parse(b)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", b, err)
	}
	if !reflect.DeepEqual(v, again) {
		t.Fatalf("round trip changed the record:\n%+v\n%+v", v, again)
	}
}
