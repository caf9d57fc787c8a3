package storetest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// TestContent runs the conformance suite of store.Content: an absent file
// is NotFound, a write replaces the whole file, empty files are kept as
// empty, names are distinct, and concurrent writers leave one of their
// values whole.
func TestContent(t *testing.T, open func(t *testing.T) store.Content) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.ReadContent(ctx, "greetings/catalog.json"); !candor.Is(err, candor.NotFound) {
		t.Fatalf("absent file: %v, want NotFound", err)
	}
	for _, data := range [][]byte{[]byte(`{"v":1}`), bytes.Repeat([]byte("x"), 200_000), {}, []byte(`{"v":2}`)} {
		if err := s.WriteContent(ctx, "greetings/catalog.json", data); err != nil {
			t.Fatal(err)
		}
		got, err := s.ReadContent(ctx, "greetings/catalog.json")
		if err != nil || !bytes.Equal(got, data) || got == nil {
			t.Fatalf("read after writing %d bytes: %d bytes, %v", len(data), len(got), err)
		}
	}
	if err := s.WriteContent(ctx, "ota/root.json", []byte("root")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ReadContent(ctx, "greetings/catalog.json"); string(got) != `{"v":2}` {
		t.Fatalf("another name's write changed the file: %q", got)
	}
	var wg sync.WaitGroup
	values := [][]byte{bytes.Repeat([]byte("a"), 50_000), bytes.Repeat([]byte("b"), 50_000)}
	for _, v := range values {
		wg.Go(func() {
			for range 10 {
				if err := s.WriteContent(ctx, "ota/timestamp.json", v); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.ReadContent(ctx, "ota/timestamp.json")
	if err != nil || (!bytes.Equal(got, values[0]) && !bytes.Equal(got, values[1])) {
		t.Fatalf("after concurrent writes: %d bytes, %v", len(got), err)
	}
}
