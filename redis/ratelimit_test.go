package redis

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/internal/testenv"
	"seatmanager/ratelimit"
	"seatmanager/ratelimit/ratelimittest"
)

// newRateLimiter returns a limiter on the shared Redis with keys no other
// test sees, which sends its commands the way seatd does, and a plain client
// on the same Redis.
func newRateLimiter(tb testing.TB) (*RateLimiter, goredis.UniversalClient) {
	tb.Helper()
	client := openClient(tb, testenv.RedisAddr(tb))
	return NewRateLimiter(pipelined(tb, client), testenv.KeyPrefix(tb)), client
}

func TestRateLimiter(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Limiter {
		r, _ := newRateLimiter(t)
		return r
	})
	t.Run("without pipelining", func(t *testing.T) {
		ratelimittest.Run(t, func(t *testing.T) ratelimittest.Limiter {
			return NewRateLimiter(openClient(t, testenv.RedisAddr(t)), testenv.KeyPrefix(t))
		})
	})
}

// TestRateLimiterShared is why the limiter lives in Redis: two instances,
// each with its own client, draw on one bucket per key.
func TestRateLimiterShared(t *testing.T) {
	prefix := testenv.KeyPrefix(t)
	a := NewRateLimiter(pipelined(t, openClient(t, testenv.RedisAddr(t))), prefix)
	b := NewRateLimiter(pipelined(t, openClient(t, testenv.RedisAddr(t))), prefix)
	lim := ratelimit.Limit{Rate: 4, Period: time.Hour}
	allowed := 0
	for i := range 2 * lim.Rate {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := l.Allow(t.Context(), "client", lim)
		if err != nil {
			t.Fatalf("Allow: got error %v, want nil", err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != lim.Rate {
		t.Errorf("allowed through two instances under %v: got %d, want %d", lim, allowed, lim.Rate)
	}
}

// TestRateLimiterKeys pins the key layout and its ttl, which operators
// reading Redis rely on: one key per client, gone once its bucket is full.
func TestRateLimiterKeys(t *testing.T) {
	r, client := newRateLimiter(t)
	ctx := t.Context()
	lim := ratelimit.Limit{Rate: 10, Period: time.Minute}
	if d, err := r.Allow(ctx, "ip:192.0.2.1", lim); err != nil || !d.Allowed {
		t.Fatalf("Allow: got %+v, %v, want allowed, nil", d, err)
	}
	key := "rate:" + r.prefix + "ip:192.0.2.1"
	// One token of ten a minute is back in 6s, and Redis rounds the ttl up to
	// a whole second.
	if got, err := client.PTTL(ctx, key).Result(); err != nil || got <= 0 || got > 7*time.Second {
		t.Errorf("PTTL %s: got %v, %v, want up to 7s", key, got, err)
	}
	// The zero limit never reaches Redis.
	if d, err := r.Allow(ctx, "ip:192.0.2.2", ratelimit.Limit{}); err != nil || !d.Allowed {
		t.Fatalf("Allow off: got %+v, %v, want allowed, nil", d, err)
	}
	if n, err := client.Exists(ctx, "rate:"+r.prefix+"ip:192.0.2.2").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS of a key under no limit: got %d, %v, want 0, nil", n, err)
	}
}

// TestRateLimiterScriptFlush: the limiter survives Redis forgetting its
// script (a restart, a failover), as the gate does.
func TestRateLimiterScriptFlush(t *testing.T) {
	r, client := newRateLimiter(t)
	lim := ratelimit.Limit{Rate: 1, Period: time.Hour}
	for i, want := range []bool{true, false} {
		if err := client.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: got %v, want nil", err)
		}
		if d, err := r.Allow(t.Context(), "client", lim); err != nil || d.Allowed != want {
			t.Fatalf("Allow %d after flush: got %+v, %v, want allowed %v, nil", i+1, d, err, want)
		}
	}
}

// TestRateLimiterRedisError: an error inside the script reaches the caller as
// an error naming the key, so that it can fall back, not as a refusal.
func TestRateLimiterRedisError(t *testing.T) {
	r, client := newRateLimiter(t)
	ctx := t.Context()
	// A key of the wrong type makes GET fail inside the script.
	if err := client.HSet(ctx, "rate:"+r.key("client"), "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	d, err := r.Allow(ctx, "client", ratelimit.Limit{Rate: 5, Period: time.Second})
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), "client") {
		t.Errorf("Allow over a hash: got %+v, %v, want a WRONGTYPE error naming the key", d, err)
	}
}

// TestRateLimiterRedisKilled: a dead Redis is an error at once, for the
// caller to answer from its own limiter, and not a stall.
func TestRateLimiterRedisKilled(t *testing.T) {
	srv := testenv.StartRedis(t)
	r := NewRateLimiter(pipelined(t, openClient(t, srv.Addr())), testenv.KeyPrefix(t))
	lim := ratelimit.Limit{Rate: 5, Period: time.Second}
	if d, err := r.Allow(t.Context(), "client", lim); err != nil || !d.Allowed {
		t.Fatalf("Allow: got %+v, %v, want allowed, nil", d, err)
	}
	srv.Kill(t)
	for range 3 { // the first call meets dead pooled connections, later ones dial
		start := time.Now()
		_, err := r.Allow(t.Context(), "client", lim)
		if elapsed := time.Since(start); err == nil || elapsed > time.Second {
			t.Fatalf("Allow on a dead Redis: got error %v after %v, want an error within 1s", err, elapsed)
		}
	}
}

func BenchmarkRateLimiter(b *testing.B) {
	r, _ := newRateLimiter(b)
	lim := ratelimit.Limit{Rate: 1_000_000, Period: time.Second}
	ctx := b.Context()
	for b.Loop() {
		if _, err := r.Allow(ctx, "client", lim); err != nil {
			b.Fatal(err)
		}
	}
}
