package booking

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Breaker decides when to call a helper that only speeds things up (the seat
// gate, idempotency markers) and may fail. After a failure the helper is skipped
// for Backoff, so that an outage costs one timeout instead of one per request;
// the outage and the recovery are each logged once.
type Breaker struct {
	Name    string        // what the helper is, for the logs
	Backoff time.Duration // how long to skip it after a failure
	Logger  *slog.Logger

	retryAt atomic.Int64 // unix nanoseconds before which the helper is skipped
	down    atomic.Bool
}

// Allow reports whether the helper may be called now.
func (b *Breaker) Allow() bool { return time.Now().UnixNano() >= b.retryAt.Load() }

// Failed records that a call failed.
func (b *Breaker) Failed(err error) {
	b.retryAt.Store(time.Now().Add(b.Backoff).UnixNano())
	if b.down.CompareAndSwap(false, true) {
		b.Logger.Warn(b.Name+" unavailable; the database decides alone until it is back",
			"err", err, "retry_in", b.Backoff)
	}
}

// Worked records that a call succeeded.
func (b *Breaker) Worked() {
	if b.down.CompareAndSwap(true, false) {
		b.Logger.Info(b.Name + " available again")
	}
}
