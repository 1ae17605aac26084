// Package deadline bounds calls to a backing service (Redis, for the seat gate
// and the idempotency markers) without a timer per call. Every request seatd
// turns away makes three such calls; a context.WithTimeout each, with its
// timer and its cancel, was some 5 % of seatd's CPU per refusal. Calls that
// begin within one tick of each other share one context, and one timer.
package deadline

import (
	"context"
	"sync/atomic"
	"time"
)

// ticks is how many ticks a bound has: a call gets its bound, and up to a
// twentieth more.
const ticks = 20

// Shared hands out contexts that end a set time after they are asked for.
// The zero value is not usable; call New.
type Shared struct {
	after, tick time.Duration
	cur         atomic.Pointer[slot]
}

// slot is the context of the calls that began within one tick of from.
type slot struct {
	ctx    context.Context
	from   time.Time
	cancel context.CancelFunc // never called: the context ends at its deadline, which frees it
}

// New returns contexts that end after at least after and at most a
// twentieth more.
func New(after time.Duration) *Shared {
	return &Shared{after: after, tick: after / ticks}
}

// Context returns a context that ends between the bound and a tick past it,
// from now. It carries no values and no cancellation of any caller's: a call
// bounded by it runs to its end even if the request that made it has gone,
// which is what the calls it bounds want (a gate key that is released, an
// answer that is recorded).
func (s *Shared) Context() context.Context {
	now := time.Now()
	if c := s.cur.Load(); c != nil && now.Sub(c.from) < s.tick {
		return c.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(s.after+s.tick))
	// Two callers may each make one at a tick's turn; the one stored last is
	// shared, the other used once.
	s.cur.Store(&slot{ctx: ctx, from: now, cancel: cancel})
	return ctx
}
