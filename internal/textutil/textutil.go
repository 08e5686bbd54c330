// Package textutil holds the text helpers several packages share: cutting
// user input for error messages without splitting a UTF-8 character.
package textutil

import "unicode/utf8"

// Clip returns s cut to at most n runes, with "…" appended when it was cut,
// so error messages quote long input briefly and stay valid UTF-8 (invalid
// bytes in s are kept as they are when s is short enough).
func Clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	k := 0
	for i := range s {
		if k == n {
			return s[:i] + "…"
		}
		k++
	}
	return s
}
