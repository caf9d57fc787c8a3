package blobstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/candorcloud/candor/internal/blobs"
)

// BenchSize is the size of the objects Benchmark puts and gets: the part
// size of photo uploads (api.PartSize).
const BenchSize = 4 << 20

// Benchmark measures s with objects of BenchSize bytes: Put (replacing one
// of eight objects in turn) and Get (reading the object to the end). Run it
// with -bench; the MB/s column is the throughput. It deletes what it put.
func Benchmark(b *testing.B, s blobs.Store) {
	ctx := context.Background()
	data := randBytes(BenchSize, 42)
	b.Cleanup(func() { s.DeletePrefix(ctx, "bench/") })
	b.Run("Put4MiB", func(b *testing.B) {
		b.SetBytes(BenchSize)
		i := 0
		for b.Loop() {
			key := fmt.Sprintf("bench/put/%d", i%8)
			if err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, BenchSize); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Get4MiB", func(b *testing.B) {
		put(b, s, "bench/get", data)
		buf := make([]byte, 1<<20)
		b.SetBytes(BenchSize)
		for b.Loop() {
			rc, size, err := s.Get(ctx, "bench/get")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, onlyReader{rc}, buf)
			rc.Close()
			if err != nil || n != size || size != BenchSize {
				b.Fatalf("Get read %d of %d bytes: %v", n, size, err)
			}
		}
	})
}
