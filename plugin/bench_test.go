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

// BenchmarkSearchTop10Concurrent runs the same searches from 16
// goroutines: ns/op is the inverse throughput, so its ratio to
// BenchmarkSearchTop10 is the gain from dynamic batching and both cores.
func BenchmarkSearchTop10Concurrent(b *testing.B) {
	e := demoEngine(&testing.T{})
	if e == nil {
		b.Skip("no demo engine")
	}
	queries := []string{"a pared-back golden armlet", "something bright for the evening", "a moss cinch in weatherproof skin", "hallmarked 925 lobe jewels"}
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.Generate(context.Background(), Request{Task: TaskSearch, Query: queries[i%len(queries)], K: 10, BeamWidth: 10}); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
