package breaker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"seatmanager/booking"
)

// fakeGate fails while failing is set and counts its calls.
type fakeGate struct {
	mu       sync.Mutex
	failing  bool
	acquires int
	releases int
}

func (g *fakeGate) Acquire(context.Context, string, string, []string, time.Duration) ([]booking.Claim, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.acquires++
	if g.failing {
		return nil, errors.New("connection refused")
	}
	return nil, nil
}

func (g *fakeGate) Release(context.Context, string, string, []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releases++
	if g.failing {
		return errors.New("connection refused")
	}
	return nil
}

func (g *fakeGate) calls() (acquires, releases int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.acquires, g.releases
}

// TestGateSkippedAfterFailure: a failing gate costs one call, is logged once,
// and is called again once the backoff has passed; a release is tried even
// while the gate is skipped, since a key it leaves would turn buyers away.
func TestGateSkippedAfterFailure(t *testing.T) {
	var logs bytes.Buffer
	inner := &fakeGate{failing: true}
	const backoff = 50 * time.Millisecond
	g := Gate{Gate: inner, Breaker: New("seat gate", backoff, slog.New(slog.NewTextHandler(&logs, nil)))}
	ctx := t.Context()
	start := time.Now()
	for range 4 {
		if _, err := g.Acquire(ctx, "s", "t", []string{"a"}, time.Second); err == nil {
			t.Fatal("Acquire of a failing gate: got nil error")
		}
	}
	if a, _ := inner.calls(); a != 1 && time.Since(start) < backoff {
		t.Errorf("the failing gate was called %d times within its backoff, want 1", a)
	}
	g.Release(ctx, "s", "t", []string{"a"})
	if _, r := inner.calls(); r != 1 {
		t.Errorf("releases while skipped: got %d calls, want 1", r)
	}
	inner.mu.Lock()
	inner.failing = false
	inner.mu.Unlock()
	time.Sleep(backoff + 10*time.Millisecond) // the backoff is a span of time; nothing to poll
	if _, err := g.Acquire(ctx, "s", "t", []string{"a"}, time.Second); err != nil {
		t.Errorf("Acquire after the backoff: %v", err)
	}
	if got := strings.Count(logs.String(), "seat gate unavailable"); got != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "seat gate available again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// TestCallerLeavingIsNoFailure: a call given up because its caller left does
// not make the gate look down.
func TestCallerLeavingIsNoFailure(t *testing.T) {
	b := New("x", time.Hour, slog.New(slog.DiscardHandler))
	b.record(context.Canceled)
	if !b.Allow() {
		t.Error("a canceled call opened the breaker")
	}
	b.record(errors.New("timeout"))
	if b.Allow() {
		t.Error("a failed call left the breaker closed")
	}
}

type failingScheduler struct{ calls int }

func (s *failingScheduler) Schedule(context.Context, booking.Hold) error {
	s.calls++
	return errors.New("down")
}

func (s *failingScheduler) Cancel(context.Context, []string) error { return errors.New("down") }

func TestSchedulerSkippedAfterFailure(t *testing.T) {
	inner := &failingScheduler{}
	s := Scheduler{Scheduler: inner, Breaker: New("hold keys", time.Hour, slog.New(slog.DiscardHandler))}
	for range 3 {
		if err := s.Schedule(t.Context(), booking.Hold{}); err != nil {
			t.Errorf("Schedule: got %v, want nil (the sweep covers what it misses)", err)
		}
	}
	if inner.calls != 1 {
		t.Errorf("failing scheduler called %d times, want 1", inner.calls)
	}
}
