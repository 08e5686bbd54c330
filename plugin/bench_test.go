package plugin

import (
	"context"
	"testing"
)

// BenchmarkSearchTop10 times a top-10 search at beam 10 on the demo model.
func BenchmarkSearchTop10(b *testing.B) {
	e := demoEngine(&testing.T{})
	if e == nil {
		b.Skip("no demo engine")
	}
	queries := []string{"a pared-back golden armlet", "something bright for the evening", "a moss cinch in weatherproof skin", "hallmarked 925 lobe jewels"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Generate(context.Background(), Request{Task: TaskSearch, Query: queries[i%len(queries)], K: 10, BeamWidth: 10}); err != nil {
			b.Fatal(err)
		}
	}
}
