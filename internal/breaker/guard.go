package breaker

import (
	"context"
	"errors"
	"time"

	"seatmanager/booking"
)

// ErrSkipped is the error of a call not made because the helper failed recently.
var ErrSkipped = errors.New("skipped after a recent failure")

// Gate is a booking.Gate that is skipped after it fails. The Service then lets
// the database decide alone.
type Gate struct {
	Gate    booking.Gate
	Breaker *Breaker
}

var _ booking.Gate = Gate{}

// Acquire asks the gate unless it is being skipped.
func (g Gate) Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]booking.Claim, error) {
	if !g.Breaker.Allow() {
		return nil, ErrSkipped
	}
	claims, err := g.Gate.Acquire(ctx, showID, token, seatIDs, ttl)
	g.Breaker.record(err)
	return claims, err
}

// Release is tried even while the gate is skipped: its Acquire may have set
// keys just before it failed, and a key left behind would turn buyers of a
// free seat away until the database contradicted it.
func (g Gate) Release(ctx context.Context, showID, token string, seatIDs []string) error {
	err := g.Gate.Release(ctx, showID, token, seatIDs)
	g.Breaker.record(err)
	return err
}

// Scheduler is a booking.Scheduler that is skipped after it fails. Its
// failures are logged by the breaker and not returned: the sweep releases what
// it misses.
type Scheduler struct {
	Scheduler booking.Scheduler
	Breaker   *Breaker
}

var _ booking.Scheduler = Scheduler{}

// Schedule schedules h unless the scheduler is being skipped.
func (s Scheduler) Schedule(ctx context.Context, h booking.Hold) error {
	if s.Breaker.Allow() {
		s.Breaker.record(s.Scheduler.Schedule(ctx, h))
	}
	return nil
}

// Cancel cancels notices unless the scheduler is being skipped.
func (s Scheduler) Cancel(ctx context.Context, tokens []string) error {
	if s.Breaker.Allow() {
		s.Breaker.record(s.Scheduler.Cancel(ctx, tokens))
	}
	return nil
}

// record counts a call's outcome. A caller that left is not the helper's fault.
func (b *Breaker) record(err error) {
	switch {
	case err == nil:
		b.Worked()
	case errors.Is(err, context.Canceled):
	default:
		b.Failed(err)
	}
}
