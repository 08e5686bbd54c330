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
	"github.com/neo-search/neo/internal/bench/catgen"
)

// BenchmarkImport imports a 20,000-item generated catalog (neo bench
// catalog's, seed 1) into a fresh on-disk catalog per iteration, as
// `neo import` does (open, import, close, GCPercent 400), and reports
// items/s:
//
//	go test ./index -run '^$' -bench Import -benchmem -benchtime 3x
func BenchmarkImport(b *testing.B) {
	const n = 20000
	var items bytes.Buffer
	if _, err := catgen.Write(&items, io.Discard, catgen.Options{Items: n, Users: 1, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.SetBytes(int64(items.Len()))
	b.ResetTimer()
	var took time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		rep, err := index.ImportInto(context.Background(), filepath.Join(dir, strconv.Itoa(i)), bytes.NewReader(items.Bytes()), index.ImportOptions{GCPercent: 400})
		took += time.Since(start)
		if err != nil || rep.Imported != n {
			b.Fatalf("imported %d of %d: %v", rep.Imported, n, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "items/s")
}
