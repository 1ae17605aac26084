// Package breaker decides when to call a helper that only speeds things up
// (the seat gate, idempotency markers, Redis hold keys) and may fail: after a
// failure the helper is skipped for a while, so that an outage costs one
// timeout instead of one per request. The database decides meanwhile.
package breaker

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Breaker skips a helper for Backoff after each failure; the outage and the
// recovery are each logged once.
type Breaker struct {
	Name    string        // what the helper is, for the logs
	Backoff time.Duration // how long to skip it after a failure
	Logger  *slog.Logger

	retryAt atomic.Int64 // unix nanoseconds before which the helper is skipped
	down    atomic.Bool
}

// New returns a breaker of the helper name, skipped for backoff after a failure.
func New(name string, backoff time.Duration, log *slog.Logger) *Breaker {
	if log == nil {
		log = slog.Default()
	}
	return &Breaker{Name: name, Backoff: backoff, Logger: log}
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
