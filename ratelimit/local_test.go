package ratelimit_test

import (
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"seatmanager/ratelimit"
	"seatmanager/ratelimit/ratelimittest"
)

func TestLocal(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Limiter { return ratelimit.NewLocal(100) })
}

// TestLocalExact checks the arithmetic inside synctest's clock, to the
// nanosecond, which the wall-clock suite cannot: a spent bucket asks for one
// token's time, waiting that long is enough, and a nanosecond less is not.
func TestLocalExact(t *testing.T) {
	for _, s := range []string{"20/s", "3/s", "7/m", "1/h"} {
		t.Run(s, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim, err := ratelimit.ParseLimit(s)
				if err != nil {
					t.Fatal(err)
				}
				l := ratelimit.NewLocal(10)
				for range lim.Rate {
					mustAllow(t, l, "k", lim, true)
				}
				d := mustAllow(t, l, "k", lim, false)
				interval := lim.Period / time.Duration(lim.Rate)
				// rate.Limiter counts in floats: its first allowed instant may be
				// a nanosecond off either way.
				if d.RetryAfter < interval-time.Nanosecond || d.RetryAfter > interval+time.Nanosecond {
					t.Fatalf("RetryAfter of a spent bucket: got %v, want %v give or take 1ns", d.RetryAfter, interval)
				}
				time.Sleep(d.RetryAfter - time.Nanosecond)
				mustAllow(t, l, "k", lim, false)
				time.Sleep(time.Nanosecond)
				mustAllow(t, l, "k", lim, true)
			})
		})
	}
}

// TestLocalEvictsNearestFull fills a small Local with buckets that are all
// still refilling: a new key then costs the one nearest full, whatever the
// order they were touched in, and the others keep their spent tokens.
func TestLocalEvictsNearestFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := ratelimit.Limit{Rate: 3, Period: time.Hour}
		l := ratelimit.NewLocal(3)
		spend := func(key string, n int) {
			t.Helper()
			for range n {
				mustAllow(t, l, key, lim, true)
			}
		}
		spend("b", 1) // nearest full, though not the oldest touched
		time.Sleep(time.Second)
		spend("a", 3)
		spend("c", 2)
		spend("d", 1) // the map is full: b goes
		mustAllow(t, l, "a", lim, false)
		spend("c", 1)
		mustAllow(t, l, "c", lim, false)
		spend("b", 3) // forgotten, so full again; d goes
		spend("d", 3)
	})
}

// TestLocalForgetsFullBuckets: dropping refilled buckets to make room must
// not cost a bucket that is still refilling, however long ago it was touched.
func TestLocalForgetsFullBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hourly := ratelimit.Limit{Rate: 1, Period: time.Hour}
		secondly := ratelimit.Limit{Rate: 1, Period: time.Second}
		l := ratelimit.NewLocal(8)
		mustAllow(t, l, "slow", hourly, true) // oldest touched, refilling for an hour
		for i := range 7 {
			mustAllow(t, l, "fast"+strconv.Itoa(i), secondly, true)
		}
		time.Sleep(2 * time.Second) // the fast buckets have refilled
		for i := range 20 {
			mustAllow(t, l, "new"+strconv.Itoa(i), secondly, true)
		}
		mustAllow(t, l, "slow", hourly, false)
	})
}

func mustAllow(tb testing.TB, l *ratelimit.Local, key string, lim ratelimit.Limit, want bool) ratelimit.Decision {
	tb.Helper()
	d, err := l.Allow(tb.Context(), key, lim)
	if err != nil {
		tb.Fatalf("Allow(%q, %v): got error %v, want nil", key, lim, err)
	}
	if d.Allowed != want {
		tb.Fatalf("Allow(%q, %v): got allowed %v (retry after %v), want %v", key, lim, d.Allowed, d.RetryAfter, want)
	}
	return d
}

// BenchmarkLocal measures a request's cost on a map of many keys, some of
// them refused, with the sweeps and evictions that keeping it bounded takes.
func BenchmarkLocal(b *testing.B) {
	lim := ratelimit.Limit{Rate: 10, Period: time.Second}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "client:" + strconv.Itoa(i)
	}
	for _, maxKeys := range []int{len(keys) * 2, len(keys) / 4} {
		b.Run("maxKeys="+strconv.Itoa(maxKeys), func(b *testing.B) {
			l := ratelimit.NewLocal(maxKeys)
			ctx := b.Context()
			i := 0
			for b.Loop() {
				if _, err := l.Allow(ctx, keys[i%len(keys)], lim); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		l := ratelimit.NewLocal(len(keys) * 2)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := l.Allow(b.Context(), keys[i%len(keys)], lim); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
