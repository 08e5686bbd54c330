package index_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/index/folder"
	"github.com/neo-search/neo/internal/bench/catgen"
)

// BenchmarkImport imports a 20,000-item generated catalog (neo bench
// catalog's, seed 1) into a fresh on-disk catalog per iteration, as
// `neo import` does (open, import, close, GCPercent 400), and reports
// items/s; "sids" gives every item an SID first, as a catalog exported
// after `neo sids` has:
//
//	go test ./index -run '^$' -bench Import -benchmem -benchtime 3x
func BenchmarkImport(b *testing.B) {
	const n = 20000
	var items bytes.Buffer
	if _, err := catgen.Write(&items, io.Discard, catgen.Options{Items: n, Users: 1, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	withSIDs := withSIDs(b, items.Bytes())
	for _, bc := range []struct {
		name  string
		input []byte
	}{{"plain", items.Bytes()}, {"sids", withSIDs}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(int64(len(bc.input)))
			var took time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				rep, err := index.ImportInto(context.Background(), filepath.Join(dir, strconv.Itoa(i)), bytes.NewReader(bc.input), index.ImportOptions{GCPercent: 400})
				took += time.Since(start)
				if err != nil || rep.Imported != n || len(rep.Bad) > 0 {
					b.Fatalf("imported %d of %d (%d bad): %v", rep.Imported, n, len(rep.Bad), err)
				}
			}
			b.ReportMetric(float64(n*b.N)/took.Seconds(), "items/s")
		})
	}
}

// withSIDs gives each item of an items.ndjson stream a distinct SID.
func withSIDs(b *testing.B, in []byte) []byte {
	items, err := folder.ReadItems(bytes.NewReader(in))
	if err != nil {
		b.Fatal(err)
	}
	for i := range items {
		items[i].SID = items[i].Type + "-" + strconv.Itoa(i%256) + "-" + strconv.Itoa(i/256%256) + "-" + strconv.Itoa(i/65536) + "-0"
	}
	var out bytes.Buffer
	if err := folder.WriteNDJSON(&out, items); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}
