package ratelimit

import (
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// TestLocalBounded checks the memory bound from the inside: however many keys
// clients make up, Local holds at most maxKeys buckets, its heap and map
// agree, and once the buckets have refilled the next call forgets them all.
func TestLocalBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxKeys = 50
		lim := Limit{Rate: 2, Period: time.Second}
		l := NewLocal(maxKeys)
		for i := range 1000 {
			if _, err := l.Allow(t.Context(), "k"+strconv.Itoa(i), lim); err != nil {
				t.Fatal(err)
			}
			if n := len(l.buckets); n > maxKeys {
				t.Fatalf("after %d keys: got %d buckets, want at most %d", i+1, n, maxKeys)
			}
			if i%100 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		checkHeap(t, l)
		time.Sleep(lim.Period) // every bucket has refilled
		if _, err := l.Allow(t.Context(), "same", lim); err != nil {
			t.Fatal(err)
		}
		if n := len(l.buckets); n != 1 {
			t.Errorf("after a call once every bucket refilled: got %d buckets, want 1 (the key in use)", n)
		}
		checkHeap(t, l)
	})
}

// TestLocalZeroLimitKeepsNothing: no limit needs no bucket, so keys under the
// zero limit cannot fill the map.
func TestLocalZeroLimitKeepsNothing(t *testing.T) {
	l := NewLocal(10)
	for i := range 100 {
		if _, err := l.Allow(t.Context(), "k"+strconv.Itoa(i), Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.buckets); n != 0 {
		t.Errorf("buckets after zero-limit calls: got %d, want 0", n)
	}
}

// TestLocalLimitChange: a key whose limit changes keeps its spent tokens
// rather than starting over with a full bucket.
func TestLocalLimitChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLocal(10)
		for range 3 {
			if d, _ := l.Allow(t.Context(), "k", Limit{Rate: 3, Period: time.Hour}); !d.Allowed {
				t.Fatal("burst refused")
			}
		}
		d, err := l.Allow(t.Context(), "k", Limit{Rate: 6, Period: time.Hour})
		if err != nil || d.Allowed {
			t.Errorf("spent key under a higher burst: got %+v, %v, want refused", d, err)
		}
	})
}

// checkHeap fails tb unless byFull holds as many buckets as the map, each
// its own item, with the soonest full on top (the heap's own order is
// timeheap's to test).
func checkHeap(tb testing.TB, l *Local) {
	tb.Helper()
	if l.byFull.Len() != len(l.buckets) {
		tb.Fatalf("heap holds %d buckets, map %d", l.byFull.Len(), len(l.buckets))
	}
	var soonest *bucket
	for key, b := range l.buckets {
		if b.key != key || b.full.Value != b {
			tb.Fatalf("bucket of key %q is keyed %q, its item holds %p, not %p", key, b.key, b.full.Value, b)
		}
		if soonest == nil || b.full.At.Before(soonest.full.At) {
			soonest = b
		}
	}
	if top := l.byFull.Peek(); soonest != nil && (top == nil || top.At.After(soonest.full.At)) {
		tb.Fatalf("the heap's top is not the bucket full soonest (%v)", soonest.full.At)
	}
}
