package buildinfo

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := Read()
	if in.GoVersion == "" || in.Version == "" {
		t.Fatalf("info %+v", in)
	}
	if s := in.String(); !strings.HasPrefix(s, "neo ") || !strings.Contains(s, in.GoVersion) {
		t.Fatalf("String %q", s)
	}
	if s := (Info{Version: "v1", Revision: "0123456789abcdef", Modified: true, GoVersion: "go1"}).String(); s != "neo v1 (0123456789ab+dirty, ) go1" {
		t.Fatalf("String %q", s)
	}
}
