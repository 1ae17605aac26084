// Package ratelimittest is the conformance suite every rate limiter must
// pass. ratelimit.Local and redis.RateLimiter both run it, so that the limit
// a client meets does not change in kind when Redis fails and breaker.Limiter
// answers from the in-process one.
package ratelimittest

import (
	"context"
	"sync"
	"testing"
	"time"

	"seatmanager/ratelimit"
)

// Limiter is what the suite tests.
type Limiter interface {
	Allow(ctx context.Context, key string, lim ratelimit.Limit) (ratelimit.Decision, error)
}

// tolerance absorbs what the limiters' clocks and arithmetic may add to a
// RetryAfter: Redis counts in microseconds and floats, and its clock is read
// a round trip away from the test's.
const tolerance = 10 * time.Millisecond

// Run runs the suite as subtests of t. newLimiter is called once per subtest
// and must return a limiter that shares no buckets with those of other
// subtests (for Redis: a key prefix of its own), so subtests run in any order.
func Run(t *testing.T, newLimiter func(t *testing.T) Limiter) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, l Limiter)
	}{
		{"Burst", testBurst},
		{"KeysIndependent", testKeysIndependent},
		{"ZeroLimitAllows", testZeroLimit},
		{"Periods", testPeriods},
		{"Refill", testRefill},
		{"Concurrent", testConcurrent},
		{"InvalidLimit", testInvalidLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newLimiter(t))
		})
	}
}

func allow(tb testing.TB, l Limiter, key string, lim ratelimit.Limit) ratelimit.Decision {
	tb.Helper()
	d, err := l.Allow(tb.Context(), key, lim)
	if err != nil {
		tb.Fatalf("Allow(%q, %v): got error %v, want nil", key, lim, err)
	}
	if d.Allowed && d.RetryAfter != 0 {
		tb.Errorf("Allow(%q, %v): got allowed with RetryAfter %v, want 0", key, lim, d.RetryAfter)
	}
	return d
}

// spendBurst makes lim.Rate requests for key, which must all be allowed, and
// then one more, which must be refused; it returns that refusal. The limits
// the callers pass refill so slowly that a slow machine cannot earn a token
// in between, unless they say otherwise.
func spendBurst(tb testing.TB, l Limiter, key string, lim ratelimit.Limit) ratelimit.Decision {
	tb.Helper()
	for i := range lim.Rate {
		if d := allow(tb, l, key, lim); !d.Allowed {
			tb.Fatalf("request %d of a burst of %v for %q: got refused (retry after %v), want allowed", i+1, lim, key, d.RetryAfter)
		}
	}
	d := allow(tb, l, key, lim)
	if d.Allowed {
		tb.Fatalf("request %d for %q under %v: got allowed, want refused", lim.Rate+1, key, lim)
	}
	return d
}

// wantRetryAfter fails unless a refusal made since start under lim asks for
// about the time one token takes: at most Period/Rate, and no less than what
// remains of it since start.
func wantRetryAfter(tb testing.TB, d ratelimit.Decision, lim ratelimit.Limit, start time.Time) {
	tb.Helper()
	interval := lim.Period / time.Duration(lim.Rate)
	lo := interval - time.Since(start) - tolerance
	if d.RetryAfter <= 0 || d.RetryAfter < lo || d.RetryAfter > interval+tolerance {
		tb.Errorf("RetryAfter under %v: got %v, want in (0, %v] and at least %v", lim, d.RetryAfter, interval, lo)
	}
}

func testBurst(t *testing.T, l Limiter) {
	lim := ratelimit.Limit{Rate: 5, Period: time.Minute}
	start := time.Now()
	wantRetryAfter(t, spendBurst(t, l, "client", lim), lim, start)
	// A refused request spends nothing: it is refused again, not later.
	wantRetryAfter(t, allow(t, l, "client", lim), lim, start)
}

func testKeysIndependent(t *testing.T, l Limiter) {
	lim := ratelimit.Limit{Rate: 3, Period: time.Hour}
	spendBurst(t, l, "a", lim)
	// a is spent; b has its own full bucket, and spending it leaves a refused.
	spendBurst(t, l, "b", lim)
	if d := allow(t, l, "a", lim); d.Allowed {
		t.Errorf("a after b's burst: got allowed, want refused")
	}
}

func testZeroLimit(t *testing.T, l Limiter) {
	for i := range 100 {
		if d := allow(t, l, "client", ratelimit.Limit{}); !d.Allowed {
			t.Fatalf("request %d under the zero limit: got refused (retry after %v), want allowed", i+1, d.RetryAfter)
		}
	}
}

func testPeriods(t *testing.T, l Limiter) {
	// The same rate over a second and over an hour: what a refusal asks a
	// client to wait tells them apart by a factor of 3600.
	perSecond := ratelimit.Limit{Rate: 2, Period: time.Second}
	perHour := ratelimit.Limit{Rate: 2, Period: time.Hour}
	start := time.Now()
	hourly := spendBurst(t, l, "hourly", perHour)
	wantRetryAfter(t, hourly, perHour, start)
	start = time.Now()
	// A second's bucket refills within the test on a slow machine; only check
	// the refusal if the burst surely took less than one token's time.
	for range perSecond.Rate {
		allow(t, l, "secondly", perSecond)
	}
	d := allow(t, l, "secondly", perSecond)
	if time.Since(start) < 400*time.Millisecond {
		if d.Allowed {
			t.Fatalf("request 3 under %v: got allowed, want refused", perSecond)
		}
		wantRetryAfter(t, d, perSecond, start)
	}
	if d := allow(t, l, "hourly", perHour); d.Allowed {
		t.Errorf("hourly after the other key's burst: got allowed, want refused")
	}
}

func testRefill(t *testing.T, l Limiter) {
	lim := ratelimit.Limit{Rate: 20, Period: time.Second}
	d := spendBurst(t, l, "client", lim)
	// The bucket refills with the clock, and the Redis limiter reads Redis's
	// clock, which no fake clock can move: the test waits the real span, at
	// most Period/Rate (50ms).
	timer := time.NewTimer(d.RetryAfter)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.Context().Done():
		t.Fatalf("context done while waiting: %v", t.Context().Err())
	}
	if d := allow(t, l, "client", lim); !d.Allowed {
		t.Errorf("after waiting RetryAfter: got refused (retry after %v), want allowed", d.RetryAfter)
	}
}

// testConcurrent races many requests for one key: exactly a burst of them
// may win, however the limiter interleaves them. The limit refills once in
// 72s, which no run of this test lasts.
func testConcurrent(t *testing.T, l Limiter) {
	lim := ratelimit.Limit{Rate: 50, Period: time.Hour}
	const requests = 200
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
		start   = make(chan struct{})
	)
	for range requests {
		wg.Go(func() {
			<-start // line everyone up, so that the requests overlap in time
			d, err := l.Allow(t.Context(), "client", lim)
			if err != nil {
				t.Errorf("Allow: got error %v, want nil", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if d.Allowed {
				allowed++
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed != lim.Rate {
		t.Errorf("allowed of %d concurrent requests under %v: got %d, want %d", requests, lim, allowed, lim.Rate)
	}
}

func testInvalidLimit(t *testing.T, l Limiter) {
	for _, lim := range []ratelimit.Limit{{Rate: -1, Period: time.Second}, {Rate: 5}} {
		if d, err := l.Allow(t.Context(), "client", lim); err == nil {
			t.Errorf("Allow under %+v: got %+v and nil error, want an error", lim, d)
		}
	}
}
