package breaker

import (
	"context"

	"seatmanager/ratelimit"
)

// Limiter is a rate limiter shared through a helper (redis.RateLimiter) that
// may fail. While the helper answers, every instance counts against one
// bucket per key; when it fails, or is skipped after failing, Fallback (one
// per instance) answers instead. An outage so loosens the limit to one per
// instance for a while, and never refuses or fails a request by itself.
//
// Fallback is not fed while the helper answers, so it meets an outage with
// full buckets: feeding it too would cost every request a second limiter, to
// be stricter only in an outage's first Period.
type Limiter struct {
	Limiter interface {
		Allow(ctx context.Context, key string, lim ratelimit.Limit) (ratelimit.Decision, error)
	}
	Fallback *ratelimit.Local
	Breaker  *Breaker
}

// Allow asks the shared limiter unless it is being skipped, and Fallback
// when it is or when it fails. The only error is that of a limit that does
// not validate: that is the config's fault, checked first so that it does
// not look like an outage of the helper.
func (l Limiter) Allow(ctx context.Context, key string, lim ratelimit.Limit) (ratelimit.Decision, error) {
	if err := lim.Validate(); err != nil {
		return ratelimit.Decision{}, err
	}
	if l.Breaker.Allow() {
		d, err := l.Limiter.Allow(ctx, key, lim)
		l.Breaker.record(err)
		if err == nil {
			return d, nil
		}
	}
	return l.Fallback.Allow(ctx, key, lim)
}
