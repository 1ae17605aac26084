package timeheap

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestOrder: items come out soonest first, after pushes, removals and
// moves in any order.
func TestOrder(t *testing.T) {
	base := time.Now()
	var h Heap[int]
	var in []*Item[int]
	for i := range 200 {
		it := &Item[int]{At: base.Add(time.Duration(rand.IntN(1000)) * time.Millisecond), Value: i}
		h.Push(it)
		in = append(in, it)
	}
	// Take out every third, and move every fifth.
	for i, it := range in {
		switch {
		case i%3 == 0:
			h.Remove(it)
		case i%5 == 0:
			it.At = base.Add(time.Duration(rand.IntN(1000)) * time.Millisecond)
			h.Fix(it)
		}
	}
	want := 0
	for i := range in {
		if i%3 != 0 {
			want++
		}
	}
	if h.Len() != want {
		t.Fatalf("Len() = %d, want %d", h.Len(), want)
	}
	var out []time.Time
	for h.Len() > 0 {
		if peek := h.Peek(); peek != h.items[0] {
			t.Fatal("Peek is not the top")
		}
		it := h.Pop()
		if it.Value%3 == 0 {
			t.Fatalf("item %d came out after it was removed", it.Value)
		}
		out = append(out, it.At)
	}
	if !slices.IsSortedFunc(out, time.Time.Compare) {
		t.Fatal("items came out out of order")
	}
	if h.Peek() != nil {
		t.Fatal("Peek of an empty heap is not nil")
	}
}
