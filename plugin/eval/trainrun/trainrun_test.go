package trainrun

import (
	"context"
	"strings"
	"testing"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
)

// Bad options fail before any import or training, saying which flag.
func TestRunBadOptions(t *testing.T) {
	ds := &folder.Folder{Dir: t.TempDir(), Items: []index.Item{{ID: "a", Type: "t"}}}
	good := Options{Arms: "multi", CoocWeight: 0.5, Levels: 3}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"unknown arm", func(o *Options) { o.Arms = "multi,dance" }, `unknown arm "dance"`},
		{"two steps", func(o *Options) { o.Steps = map[string]string{"multi": "1,2"} }, "--steps-multi"},
		{"negative steps", func(o *Options) { o.Steps = map[string]string{"multi": "1,-2,3"} }, "non-negative"},
		{"dropout", func(o *Options) { o.Dropout = 1 }, "--dropout"},
		{"cooc weight", func(o *Options) { o.CoocWeight = 0 }, "--cooc-weight"},
		{"levels", func(o *Options) { o.Levels = 0 }, "--levels"},
		{"python", func(o *Options) { o.Python = "/nonexistent/python3" }, "/nonexistent/python3 not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			var log strings.Builder
			o.Log = &log
			_, err := Run(context.Background(), ds, o, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
