package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdef", 5, "abcde…"},
		{"runes not bytes", "ééééé", 5, "ééééé"},
		{"cut runes", "éééééé", 3, "ééé…"},
		{"zero", "abc", 0, ""},
		{"empty", "", 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clip(tc.s, tc.n); got != tc.want {
				t.Fatalf("Clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

func FuzzClip(f *testing.F) {
	for _, s := range []string{"", "abc", "日本語のテキスト", strings.Repeat("é", 100), "\xff\xfe"} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n % 200
		got := Clip(s, n)
		if n <= 0 {
			if got != "" {
				t.Fatalf("Clip(%q, %d) = %q", s, n, got)
			}
			return
		}
		if got == s {
			if utf8.RuneCountInString(s) > n {
				t.Fatalf("Clip(%q, %d) kept %d runes", s, n, utf8.RuneCountInString(s))
			}
			return
		}
		body := strings.TrimSuffix(got, "…")
		if !strings.HasPrefix(s, body) || utf8.RuneCountInString(body) != n {
			t.Fatalf("Clip(%q, %d) = %q", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Clip(%q, %d) = %q is not valid UTF-8", s, n, got)
		}
	})
}
