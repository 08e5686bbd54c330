package envflag

import (
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Setenv("NEO_T_STR", "x")
	t.Setenv("NEO_T_EMPTY", "")
	t.Setenv("NEO_T_INT", "7")
	t.Setenv("NEO_T_DUR", "2s")
	t.Setenv("NEO_T_BOOL", "true")
	var e Defaults
	if got := e.String("NEO_T_STR", "d"); got != "x" {
		t.Fatalf("String = %q", got)
	}
	if got := e.String("NEO_T_EMPTY", "d"); got != "" {
		t.Fatalf("String of an empty variable = %q, want it kept", got)
	}
	if got := e.String("NEO_T_UNSET", "d"); got != "d" {
		t.Fatalf("String unset = %q", got)
	}
	if got := e.Int("NEO_T_INT", 1); got != 7 {
		t.Fatalf("Int = %d", got)
	}
	if got := e.Int("NEO_T_EMPTY", 1); got != 1 {
		t.Fatalf("Int empty = %d", got)
	}
	if got := e.Duration("NEO_T_DUR", time.Second); got != 2*time.Second {
		t.Fatalf("Duration = %v", got)
	}
	if got := e.Bool("NEO_T_BOOL", false); !got {
		t.Fatal("Bool = false")
	}
	if e.Err != nil {
		t.Fatalf("Err = %v", e.Err)
	}
	for _, tc := range []struct {
		name string
		read func(*Defaults)
	}{
		{"int", func(e *Defaults) { e.Int("NEO_T_BAD", 1) }},
		{"duration", func(e *Defaults) { e.Duration("NEO_T_BAD", time.Second) }},
		{"bool", func(e *Defaults) { e.Bool("NEO_T_BAD", false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NEO_T_BAD", "seven")
			var e Defaults
			tc.read(&e)
			tc.read(&e)
			if e.Err == nil {
				t.Fatal("malformed value: no Err")
			}
		})
	}
}
