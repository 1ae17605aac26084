package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"seatmanager/ratelimit"
)

// RateLimiter is a rate limiter shared by every seatd instance on one Redis,
// so that a client's limit holds across instances rather than per instance.
// It is redis_rate's GCRA, one Lua script and one round trip per request,
// which keeps a key's state in a single string: the time its bucket will be
// full, expiring then. A retry after a lost reply (the client retries once)
// may spend a second token; that errs towards refusing, and only in an
// outage, when breaker.Limiter soon answers from the instance instead.
type RateLimiter struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// NewRateLimiter returns a limiter keeping its keys in client under prefix,
// which lets several deployments or tests share one Redis. Any
// goredis.UniversalClient will do; seatd passes its automatic pipeliner (see
// Pipelined), as for the gate and the markers.
func NewRateLimiter(client Commander, prefix string) *RateLimiter {
	return &RateLimiter{limiter: redis_rate.NewLimiter(rateClient{client}), prefix: prefix}
}

// key names key's Redis key, less the "rate:" redis_rate puts before it.
func (r *RateLimiter) key(key string) string { return r.prefix + key }

// Allow spends one of key's tokens under lim, or says how long until there
// is one. Redis's errors are returned, for the caller to fall back on a
// limiter of its own; the zero Limit allows without asking Redis.
func (r *RateLimiter) Allow(ctx context.Context, key string, lim ratelimit.Limit) (ratelimit.Decision, error) {
	if err := lim.Validate(); err != nil {
		return ratelimit.Decision{}, err
	}
	if lim.Rate == 0 {
		return ratelimit.Decision{Allowed: true}, nil
	}
	res, err := r.limiter.Allow(ctx, r.key(key), redis_rate.Limit{Rate: lim.Rate, Burst: lim.Rate, Period: lim.Period})
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("rate limit %.80q in redis: %w", key, err)
	}
	if res.Allowed > 0 {
		return ratelimit.Decision{Allowed: true}, nil
	}
	// Redis's clock counts microseconds, and the script's floats lose less
	// than that: rounding up to one makes waiting RetryAfter enough.
	return ratelimit.Decision{RetryAfter: max(res.RetryAfter, 0).Truncate(time.Microsecond) + time.Microsecond}, nil
}

// rateClient is a Commander with the DEL redis_rate asks for too (only its
// Reset uses it), so that the limiter can run through the pipeliner.
type rateClient struct{ Commander }

func (c rateClient) Del(ctx context.Context, keys ...string) *goredis.IntCmd {
	args := make([]any, 0, 1+len(keys))
	args = append(args, "del")
	for _, k := range keys {
		args = append(args, k)
	}
	cmd := goredis.NewIntCmd(ctx, args...)
	n, err := c.Do(ctx, args...).Int64()
	cmd.SetVal(n)
	cmd.SetErr(err)
	return cmd
}
