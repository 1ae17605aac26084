package breaker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"seatmanager/ratelimit"
)

// fakeLimiter answers with decision, or fails with err, and counts its calls.
type fakeLimiter struct {
	mu       sync.Mutex
	err      error
	decision ratelimit.Decision
	calls    int
}

func (f *fakeLimiter) Allow(context.Context, string, ratelimit.Limit) (ratelimit.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.decision, f.err
}

func (f *fakeLimiter) set(d ratelimit.Decision, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decision, f.err = d, err
}

func (f *fakeLimiter) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func allowLimiter(tb testing.TB, l Limiter, lim ratelimit.Limit) ratelimit.Decision {
	tb.Helper()
	d, err := l.Allow(tb.Context(), "client", lim)
	if err != nil {
		tb.Fatalf("Allow under %v: got error %v, want nil", lim, err)
	}
	return d
}

// TestLimiterFallsBack: a failing shared limiter costs one call per backoff,
// is logged once, and meanwhile the instance's own limiter answers, so that
// requests are limited per instance, never failed; once the backoff has
// passed the shared limiter decides again. synctest's clock moves the breaker
// and the fallback's buckets together.
func TestLimiterFallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		shared := &fakeLimiter{decision: ratelimit.Decision{RetryAfter: 7 * time.Second}}
		const backoff = time.Second
		l := Limiter{
			Limiter:  shared,
			Fallback: ratelimit.NewLocal(10),
			Breaker:  New("rate limiter", backoff, slog.New(slog.NewTextHandler(&logs, nil))),
		}
		lim := ratelimit.Limit{Rate: 2, Period: time.Hour}
		// Healthy: the shared limiter's answer is the answer, refusals included.
		if d := allowLimiter(t, l, lim); d.Allowed || d.RetryAfter != 7*time.Second {
			t.Fatalf("from a healthy shared limiter: got %+v, want its refusal", d)
		}

		shared.set(ratelimit.Decision{}, errors.New("connection refused"))
		for i, want := range []bool{true, true, false, false} {
			d := allowLimiter(t, l, lim)
			if d.Allowed != want {
				t.Fatalf("request %d in the outage: got %+v, want allowed %v from the fallback's bucket of %d", i+1, d, want, lim.Rate)
			}
			if !want && (d.RetryAfter <= 0 || d.RetryAfter > lim.Period/time.Duration(lim.Rate)) {
				t.Errorf("fallback's refusal: got RetryAfter %v, want in (0, %v]", d.RetryAfter, lim.Period/2)
			}
		}
		if got := shared.callCount(); got != 2 {
			t.Errorf("shared limiter calls: got %d, want 2 (1 healthy, 1 failing, then skipped)", got)
		}

		time.Sleep(backoff)
		shared.set(ratelimit.Decision{Allowed: true}, nil)
		if d := allowLimiter(t, l, lim); !d.Allowed {
			t.Errorf("after the backoff: got %+v, want the shared limiter's allowance", d)
		}
		if got := strings.Count(logs.String(), "rate limiter unavailable"); got != 1 {
			t.Errorf("outage logged %d times, want once:\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), "rate limiter available again") {
			t.Errorf("recovery not logged:\n%s", logs.String())
		}
	})
}

// TestLimiterCallerLeft: a shared call given up because the caller left does
// not make the helper look down; the fallback still answers.
func TestLimiterCallerLeft(t *testing.T) {
	shared := &fakeLimiter{err: context.Canceled}
	l := Limiter{Limiter: shared, Fallback: ratelimit.NewLocal(10), Breaker: New("x", time.Hour, slog.New(slog.DiscardHandler))}
	lim := ratelimit.Limit{Rate: 1, Period: time.Hour}
	if d := allowLimiter(t, l, lim); !d.Allowed {
		t.Errorf("canceled shared call: got %+v, want the fallback's allowance", d)
	}
	if !l.Breaker.Allow() {
		t.Error("a canceled call opened the breaker")
	}
}

// TestLimiterInvalidLimit: a bad limit is the caller's error, returned as
// one, and neither asks the shared limiter nor trips the breaker.
func TestLimiterInvalidLimit(t *testing.T) {
	shared := &fakeLimiter{}
	l := Limiter{Limiter: shared, Fallback: ratelimit.NewLocal(10), Breaker: New("x", time.Hour, slog.New(slog.DiscardHandler))}
	if d, err := l.Allow(t.Context(), "client", ratelimit.Limit{Rate: 5}); err == nil {
		t.Errorf("Allow under a limit without a period: got %+v, nil, want an error", d)
	}
	if shared.callCount() != 0 || !l.Breaker.Allow() {
		t.Errorf("invalid limit: got %d shared calls and breaker allowing %v, want 0 and true", shared.callCount(), l.Breaker.Allow())
	}
}
