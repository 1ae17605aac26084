package expiry

import (
	"context"
	"slices"
	"sync"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/timeheap"
)

// Timers is the in-process expiry notice: a booking.Scheduler that calls Fire
// with a hold's token when its expiry comes. One goroutine (Run) owns the
// waiting, however many holds there are.
type Timers struct {
	// Fire is called, from Run's goroutine, for each hold whose time came.
	Fire func(ctx context.Context, token string)

	mu   sync.Mutex
	due  timeheap.Heap[string] // tokens by when they are due
	wake chan struct{}
	// notices are each token's notices in due (more than one once a hold is
	// extended), so that a hold that ended takes them out at once: left to
	// come due, the notices of a hold TTL's ended holds were most of what
	// seatd's memory grew by in a steady run.
	notices map[string][]*timeheap.Item[string]
}

var _ booking.Scheduler = (*Timers)(nil)

// NewTimers returns timers calling fire.
func NewTimers(fire func(ctx context.Context, token string)) *Timers {
	return &Timers{Fire: fire, wake: make(chan struct{}, 1), notices: map[string][]*timeheap.Item[string]{}}
}

// Cancel drops the notices of holds that ended. A token with no notice here
// (another instance's hold) is ignored.
func (t *Timers) Cancel(_ context.Context, tokens []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, token := range tokens {
		for _, n := range t.notices[token] {
			t.due.Remove(n)
		}
		delete(t.notices, token)
	}
	return nil
}

// Schedule arranges for Fire(h.Token) at h.ExpiresAt. Scheduling a hold again
// (an extension) adds another notice; the early one finds the hold live and
// frees nothing.
func (t *Timers) Schedule(_ context.Context, h booking.Hold) error {
	t.mu.Lock()
	n := &timeheap.Item[string]{At: h.ExpiresAt, Value: h.Token}
	t.due.Push(n)
	t.notices[h.Token] = append(t.notices[h.Token], n)
	t.mu.Unlock()
	select { // Run may be waiting for a later notice
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run fires notices as they come due until ctx is done.
func (t *Timers) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for _, token := range t.popDue(time.Now()) {
			t.Fire(ctx, token)
		}
		timer.Reset(t.untilNext())
		select {
		case <-ctx.Done():
			return nil
		case <-t.wake:
		case <-timer.C:
		}
	}
}

// Len is the number of notices waiting.
func (t *Timers) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.due.Len()
}

func (t *Timers) popDue(now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var tokens []string
	for next := t.due.Peek(); next != nil && !next.At.After(now); next = t.due.Peek() {
		t.due.Pop()
		token := next.Value
		tokens = append(tokens, token)
		left := slices.DeleteFunc(t.notices[token], func(n *timeheap.Item[string]) bool { return n == next })
		if len(left) == 0 {
			delete(t.notices, token)
		} else {
			t.notices[token] = left
		}
	}
	return tokens
}

func (t *Timers) untilNext() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.due.Peek()
	if next == nil {
		return time.Hour
	}
	return max(time.Until(next.At), 0)
}

// Both schedules every hold with each of its schedulers: with Redis, the
// instance that made a hold releases it on time by its own timer, whatever
// Redis's expiry cycle does, and the Redis key's event covers the hold if that
// instance dies first. Whichever comes second finds nothing to release.
type Both []booking.Scheduler

// Cancel cancels the notices of tokens with every scheduler, and reports the
// first failure.
func (b Both) Cancel(ctx context.Context, tokens []string) error {
	var first error
	for _, s := range b {
		if err := s.Cancel(ctx, tokens); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Schedule schedules h with every scheduler, and reports the first failure.
func (b Both) Schedule(ctx context.Context, h booking.Hold) error {
	var first error
	for _, s := range b {
		if err := s.Schedule(ctx, h); err != nil && first == nil {
			first = err
		}
	}
	return first
}
