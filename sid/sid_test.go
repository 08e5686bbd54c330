package sid

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want SID
		err  bool
	}{
		{in: "[SID:handbag-12-203-5-0]", want: SID{Type: "handbag", Codes: []int{12, 203, 5, 0}}},
		{in: "handbag-12-203-5-0", want: SID{Type: "handbag", Codes: []int{12, 203, 5, 0}}},
		{in: "[SID:t_shirt2-0-1]", want: SID{Type: "t_shirt2", Codes: []int{0, 1}}},
		{in: "[SID:handbag-12-203-5-0", err: true},
		{in: "[SID:handbag]", err: true},
		{in: "[SID:Handbag-1-2]", err: true},
		{in: "[SID:handbag-01-2]", err: true},
		{in: "[SID:handbag-1--2]", err: true},
		{in: "[SID:handbag-1-65536]", err: true},
		{in: "[SID:handbag-1-2-3-4-5-6-7-8-9]", err: true},
		{in: "[SID:hand-bag-1-2]", err: true},
		{in: "", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.err {
				if err == nil || !errors.Is(err, ErrSyntax) {
					t.Fatalf("Parse(%q) = %v, %v; want an ErrSyntax error", tc.in, got, err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if back, err := Parse(got.String()); err != nil || !back.Equal(got) {
				t.Fatalf("round trip of %v: %v, %v", got, back, err)
			}
		})
	}
}

func TestNormalizeType(t *testing.T) {
	for in, want := range map[string]string{
		"Hand Bag": "hand_bag", "t-shirt": "t_shirt", "  RING ": "ring", "3d print": "t_3d_print", "---": "", "": "",
	} {
		if got := NormalizeType(in); got != want {
			t.Errorf("NormalizeType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindAll(t *testing.T) {
	text := "I recommend [SID:ring-1-2-3-0], or [SID:bad] and [SID:watch-0-0-0-1]."
	sids, spans := FindAll(text)
	if len(sids) != 2 || sids[0].Key() != "ring-1-2-3-0" || sids[1].Key() != "watch-0-0-0-1" {
		t.Fatalf("FindAll = %v", sids)
	}
	if text[spans[0][0]:spans[0][1]] != "[SID:ring-1-2-3-0]" {
		t.Fatalf("span %v", spans[0])
	}
}

// FuzzParse: Parse never panics, and whatever it accepts renders back to a
// text that parses to the same SID.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"[SID:handbag-12-203-5-0]", "ring-0-0", "[SID:a-1]", "[SID:x-99999-1]", "[SID:", "]", "-1-2", "[SID:é-1-2]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := Parse(s)
		if err != nil {
			return
		}
		y, err := Parse(x.String())
		if err != nil || !y.Equal(x) {
			t.Fatalf("%q parsed to %v, which renders to %q and parses to %v, %v", s, x, x.String(), y, err)
		}
		if !ValidType(x.Type) || len(x.Codes) == 0 || len(x.Codes) > MaxCodes {
			t.Fatalf("%q parsed to invalid %v", s, x)
		}
	})
}
