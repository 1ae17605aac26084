// Package timeheap is a heap of items by time, soonest first, from which any
// item can also be taken out or moved: the in-process expiry timers' notices
// (a hold that ends takes its notices out) and the local rate limiter's
// buckets (a bucket's time moves with each request).
package timeheap

import (
	"container/heap"
	"time"
)

// Item is a value at a time in a Heap. Change At only through Heap.Fix.
type Item[T any] struct {
	At    time.Time
	Value T
	index int // in the heap, kept by it
}

// Heap orders items by At, soonest on top. The zero value is an empty heap.
type Heap[T any] struct{ items items[T] }

// Len is the number of items in the heap.
func (h *Heap[T]) Len() int { return len(h.items) }

// Peek returns the soonest item, or nil if the heap is empty.
func (h *Heap[T]) Peek() *Item[T] {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}

// Push adds it, which must be in no heap.
func (h *Heap[T]) Push(it *Item[T]) { heap.Push(&h.items, it) }

// Pop takes out the soonest item; the heap must not be empty.
func (h *Heap[T]) Pop() *Item[T] { return heap.Pop(&h.items).(*Item[T]) }

// Remove takes out it, which must be in h.
func (h *Heap[T]) Remove(it *Item[T]) { heap.Remove(&h.items, it.index) }

// Fix puts it, which must be in h, back in order after its At changed.
func (h *Heap[T]) Fix(it *Item[T]) { heap.Fix(&h.items, it.index) }

// items is the heap.Interface under Heap.
type items[T any] []*Item[T]

func (s items[T]) Len() int           { return len(s) }
func (s items[T]) Less(i, j int) bool { return s[i].At.Before(s[j].At) }
func (s items[T]) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index, s[j].index = i, j
}

func (s *items[T]) Push(x any) {
	it := x.(*Item[T])
	it.index = len(*s)
	*s = append(*s, it)
}

func (s *items[T]) Pop() any {
	old := *s
	it := old[len(old)-1]
	old[len(old)-1] = nil // no longer reachable from the backing array
	*s = old[:len(old)-1]
	return it
}
