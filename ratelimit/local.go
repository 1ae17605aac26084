package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"seatmanager/internal/timeheap"
)

// Local is a limiter in process: one token bucket (a rate.Limiter) per key.
// It is what a single seatd uses, and what breaker.Limiter answers from while
// the shared limiter in Redis is down.
//
// Keys come from clients, so Local holds at most maxKeys buckets. A bucket
// that has refilled is forgotten, which changes nothing, since a new one
// starts full. Buckets are kept in a heap by the time they will be full, so
// each call forgets, lazily, the ones that are full by then: it looks at one
// bucket, plus O(log n) work for each one it forgets.
//
// When a new key finds maxKeys buckets that are all still refilling, the one
// that will be full soonest is dropped. Its key gets a full bucket back if it
// returns, and that gives it the fewest tokens it has not earned yet. The
// usual choice of the bucket touched longest ago could drop a heavy user who
// paused for a moment and give them a whole burst again, and heavy users are
// who a limit is for.
//
// A bucket costs about 200 bytes plus its key, so callers should pass short
// keys (an address, a user id).
type Local struct {
	mu      sync.Mutex
	maxKeys int
	buckets map[string]*bucket
	byFull  timeheap.Heap[*bucket] // by when each is full again, soonest first
}

// bucket is one key's token bucket.
type bucket struct {
	key    string
	limit  Limit
	tokens *rate.Limiter
	full   timeheap.Item[*bucket] // in Local.byFull at when tokens will hold limit.Rate again
}

// NewLocal returns a limiter holding at most maxKeys buckets (at least 1).
func NewLocal(maxKeys int) *Local {
	return &Local{maxKeys: max(maxKeys, 1), buckets: make(map[string]*bucket)}
}

// Allow spends one of key's tokens under lim, or says how long until there
// is one. It fails only for a limit that does not validate. The zero Limit
// allows without keeping a bucket.
func (l *Local) Allow(_ context.Context, key string, lim Limit) (Decision, error) {
	if err := lim.Validate(); err != nil {
		return Decision{}, err
	}
	if lim.Rate == 0 {
		return Decision{Allowed: true}, nil
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for next := l.byFull.Peek(); next != nil && !next.At.After(now); next = l.byFull.Peek() {
		l.drop()
	}
	b, ok := l.buckets[key]
	changed := !ok // whether b.full.At must be worked out again
	switch {
	case !ok:
		if len(l.buckets) >= l.maxKeys {
			l.drop()
		}
		b = &bucket{key: key, limit: lim, tokens: rate.NewLimiter(perSecond(lim), lim.Rate)}
		b.full.Value = b
	case b.limit != lim:
		// A key's limit changes only with the config; it keeps its tokens.
		b.limit, changed = lim, true
		b.tokens.SetLimitAt(now, perSecond(lim))
		b.tokens.SetBurstAt(now, lim.Rate)
	}
	var d Decision
	if b.tokens.AllowN(now, 1) {
		d.Allowed, changed = true, true
	} else {
		// A refusal spends nothing: the bucket will be full when it would have been.
		d.RetryAfter = retryAfter(b.tokens, now)
	}
	if changed {
		missing := float64(lim.Rate) - b.tokens.TokensAt(now)
		b.full.At = now.Add(ceilDuration(missing / float64(b.tokens.Limit())))
		if ok {
			l.byFull.Fix(&b.full)
		} else {
			l.buckets[key] = b
			l.byFull.Push(&b.full)
		}
	}
	return d, nil
}

// drop forgets the bucket that is full soonest.
func (l *Local) drop() {
	b := l.byFull.Pop().Value
	delete(l.buckets, b.key)
}

// retryAfter is how long until tokens allows a request. It asks the
// limiter's own arithmetic, in which a request is allowed once the wait for
// its token is under a nanosecond, so that a client that waits exactly this
// long is allowed and one that waits a nanosecond less is not.
func retryAfter(tokens *rate.Limiter, now time.Time) time.Duration {
	wait := func(t time.Time) float64 { // in nanoseconds, as rate.Limiter computes it
		return (1 - tokens.TokensAt(t)) / float64(tokens.Limit()) * float64(time.Second)
	}
	w := wait(now)
	if w >= math.MaxInt64 {
		return math.MaxInt64
	}
	// Float rounding may put the first allowed nanosecond one or two off.
	d := time.Duration(w)
	for i := 0; i < 3 && d > 1 && wait(now.Add(d-1)) < 1; i++ {
		d--
	}
	for i := 0; i < 3 && wait(now.Add(d)) >= 1; i++ {
		d++
	}
	return d
}

// ceilDuration converts seconds to a Duration, rounding up to the next
// nanosecond and capping where a Duration ends (a limit built in code may
// refill over centuries).
func ceilDuration(seconds float64) time.Duration {
	ns := math.Ceil(seconds * float64(time.Second))
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// perSecond is lim's refill rate in the unit rate.Limiter counts in.
func perSecond(lim Limit) rate.Limit {
	return rate.Limit(float64(lim.Rate) / lim.Period.Seconds())
}
