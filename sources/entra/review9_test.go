package entra

import (
	"runtime"
	"strings"
	"testing"
)

// Review of issue 9: The 64 MiB page cap bounds the bytes read, not the
// heap: a page of empty objects ({},{},... three bytes each) decodes into a
// []graphUser of ~150 bytes per element, so a hostile Graph answer within
// the cap holds about 3.4 GB live (plus the slice's growth), the blow-up
// the cap was meant to prevent ("a 400 MiB page took the heap to ~900
// MiB"). Decoding must bound the elements of a page (Graph's $top is at
// most 999) or stream them, so a page's heap stays a small multiple of its
// size. Here: 2 MiB of "{}," must not hold more than 16x that after decoding.
func TestReview9PageOfEmptyObjectsDoesNotMultiplyTheHeap(t *testing.T) {
	const size = 2 << 20
	body := `{"value":[` + strings.Repeat("{},", size/3) + `{}]}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := decodePage[graphUser]("https://graph.example/v1.0", "", []byte(body))
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := len(p.Value)
	runtime.KeepAlive(p)
	if err != nil {
		return // refusing such a page is fine
	}
	if live := int64(after.HeapAlloc) - int64(before.HeapAlloc); live > 16*size {
		t.Errorf("a %d MiB page of %d empty objects holds %d MiB of heap once decoded (%.0fx its size); at the 64 MiB cap that is ~%d GiB",
			size>>20, n, live>>20, float64(live)/size, (live*32)>>30)
	}
}
