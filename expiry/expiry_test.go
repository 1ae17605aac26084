package expiry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"seatmanager/booking"
	"seatmanager/expiry"
)

// fakeStore is an expiry.Store whose answers each test sets.
type fakeStore struct {
	releaseHold   func(token string) (booking.Lapse, error)
	releaseLapsed func(limit int) ([]booking.Lapse, error)
}

func (f *fakeStore) ReleaseHold(_ context.Context, token string) (booking.Lapse, error) {
	return f.releaseHold(token)
}

func (f *fakeStore) ReleaseLapsed(_ context.Context, limit int) ([]booking.Lapse, error) {
	return f.releaseLapsed(limit)
}

// observed collects what a Worker reports.
type observed struct {
	mu  sync.Mutex
	got []string
}

func (o *observed) release(path string, seats int, delay time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, path+" "+time.Duration(seats).String()+" "+delay.String())
}

func TestTimersFireInOrderOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		type fired struct {
			token string
			after time.Duration
		}
		var mu sync.Mutex
		var got []fired
		timers := expiry.NewTimers(func(_ context.Context, token string) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fired{token, time.Since(start)})
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- timers.Run(ctx) }()
		for _, h := range []struct {
			token string
			in    time.Duration
		}{{"c", 3 * time.Second}, {"a", time.Second}, {"b", 2 * time.Second}, {"past", -time.Second}} {
			timers.Schedule(ctx, booking.Hold{Token: h.token, ExpiresAt: start.Add(h.in)})
		}
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		mu.Lock()
		if len(got) != 3 {
			t.Errorf("after 2.5s: got %v, want past, a and b fired", got)
		}
		mu.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := []fired{{"past", 0}, {"a", time.Second}, {"b", 2 * time.Second}, {"c", 3 * time.Second}}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("notice %d: got %v, want %v", i, got[i], want[i])
			}
		}
		if n := timers.Len(); n != 0 {
			t.Errorf("got %d notices left, want 0", n)
		}
	})
}

func TestWorkerRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		var o observed
		var retried []booking.Hold
		w := &expiry.Worker{
			Store: &fakeStore{releaseHold: func(token string) (booking.Lapse, error) {
				switch token {
				case "lapsed":
					return booking.Lapse{Release: booking.Release{SeatIDs: []string{"s1", "s2"}, ReleasedAt: now.Add(30 * time.Millisecond)}, ExpiredAt: now}, nil
				case "early":
					return booking.Lapse{LiveUntil: now.Add(30 * time.Millisecond), CheckedAt: now}, nil
				case "broken":
					return booking.Lapse{}, errors.New("database down")
				}
				return booking.Lapse{}, nil // booked or released meanwhile
			}},
			OnRelease: o.release,
			Retry: schedulerFunc(func(_ context.Context, h booking.Hold) error {
				retried = append(retried, h)
				return nil
			}),
		}
		for _, token := range []string{"lapsed", "early", "gone", "broken"} {
			w.Release(t.Context(), token, booking.ReleasedByEvent)
		}
		if len(o.got) != 1 || o.got[0] != "event 2ns 30ms" {
			t.Errorf("observed %v, want one event release of 2 seats 30ms late", o.got)
		}
		if len(retried) != 1 || retried[0].Token != "early" || !retried[0].ExpiresAt.Equal(now.Add(30*time.Millisecond)) {
			t.Errorf("retried %v, want the early notice again at its hold's expiry", retried)
		}
	})
}

type schedulerFunc func(ctx context.Context, h booking.Hold) error

func (f schedulerFunc) Schedule(ctx context.Context, h booking.Hold) error { return f(ctx, h) }
func (f schedulerFunc) Cancel(context.Context, []string) error             { return nil }

func TestWorkerSweepBatches(t *testing.T) {
	remaining := 7
	var limits []int
	var o observed
	w := &expiry.Worker{
		Batch: 3, OnRelease: o.release,
		Store: &fakeStore{releaseLapsed: func(limit int) ([]booking.Lapse, error) {
			limits = append(limits, limit)
			n := min(limit, remaining)
			remaining -= n
			var lapses []booking.Lapse
			for range n {
				lapses = append(lapses, booking.Lapse{Release: booking.Release{SeatIDs: []string{"s"}}})
			}
			return lapses, nil
		}},
	}
	n, err := w.Sweep(t.Context())
	if err != nil || n != 7 {
		t.Errorf("Sweep: got (%d, %v), want 7 seats", n, err)
	}
	if len(limits) != 3 {
		t.Errorf("got %d statements (%v), want 3 batches of at most 3", len(limits), limits)
	}
	if len(o.got) != 7 || o.got[0][:8] != "sweeper " {
		t.Errorf("observed %v, want 7 sweeper releases", o.got)
	}
}

func TestWorkerRunSweepsAtStartAndOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		sweeps := 0
		store := &fakeStore{releaseLapsed: func(int) ([]booking.Lapse, error) {
			mu.Lock()
			defer mu.Unlock()
			sweeps++
			return nil, nil
		}}
		ctx, cancel := context.WithCancel(t.Context())
		go (&expiry.Worker{Store: store, SweepInterval: time.Second}).Run(ctx)
		go (&expiry.Worker{Store: store}).Run(ctx) // sweeping off: never sweeps
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if sweeps != 3 {
			t.Errorf("got %d sweeps in 2.5s with a 1s interval, want 3 (at start, 1s, 2s)", sweeps)
		}
	})
}

// TestEarlyNoticeUnderClockSkew: this host's clock runs ahead of the
// database's, so every notice comes early; it is retried once per the
// database's own estimate, not in a busy loop.
func TestEarlyNoticeUnderClockSkew(t *testing.T) {
	const skew = 50 * time.Millisecond
	expires := time.Now().Add(20 * time.Millisecond)
	var calls atomic.Int64
	released := make(chan time.Time, 1)
	w := &expiry.Worker{Store: &fakeStore{releaseHold: func(string) (booking.Lapse, error) {
		calls.Add(1)
		dbNow := time.Now().Add(-skew)
		if dbNow.Before(expires) {
			return booking.Lapse{LiveUntil: expires, CheckedAt: dbNow}, nil
		}
		released <- dbNow
		return booking.Lapse{Release: booking.Release{SeatIDs: []string{"s"}}, ExpiredAt: expires}, nil
	}}}
	timers := expiry.NewTimers(func(ctx context.Context, token string) { w.Release(ctx, token, booking.ReleasedByTimer) })
	w.Retry = timers
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	timers.Schedule(ctx, booking.Hold{Token: "h", ExpiresAt: expires})
	timers.Run(ctx)
	if n := calls.Load(); n < 2 || n > 5 {
		t.Errorf("ReleaseHold ran %d times for one hold, want a few: the early notice, then its retry", n)
	}
	// The retry is what released the hold, once the database's clock had
	// passed its expiry, and not much later.
	select {
	case at := <-released:
		if late := at.Sub(expires); late > 100*time.Millisecond {
			t.Errorf("released %v after expiry by the database's clock, want within 100ms", late)
		}
	default:
		t.Error("the hold was never released: the early notice was not retried")
	}
}

// TestNoticesReleasedConcurrently: a burst of expiries is not released one
// transaction after another.
func TestNoticesReleasedConcurrently(t *testing.T) {
	var inFlight, most atomic.Int64
	var wg sync.WaitGroup
	wg.Add(40)
	w := &expiry.Worker{Releasers: 8, Store: &fakeStore{releaseHold: func(string) (booking.Lapse, error) {
		defer wg.Done()
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond) // a transaction's worth of work
		return booking.Lapse{}, nil
	}}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	for i := range 40 {
		w.Notify(fmt.Sprint("h", i), booking.ReleasedByTimer)
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m := most.Load(); m < 2 || m > 8 {
		t.Errorf("at most %d releases ran at once, want between 2 and 8", m)
	}
}

// TestTimersCancel: a cancelled hold's notices (one per extension) are gone
// at once, not kept until they come due, and do not fire; the others do.
func TestTimersCancel(t *testing.T) {
	fired := make(chan string, 2)
	timers := expiry.NewTimers(func(_ context.Context, token string) { fired <- token })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	soon := time.Now().Add(20 * time.Millisecond)
	timers.Schedule(ctx, booking.Hold{Token: "ended", ExpiresAt: soon})
	timers.Schedule(ctx, booking.Hold{Token: "lapses", ExpiresAt: soon.Add(10 * time.Millisecond)})
	timers.Schedule(ctx, booking.Hold{Token: "ended", ExpiresAt: soon.Add(time.Hour)}) // extended
	timers.Cancel(ctx, []string{"ended", "unknown"})
	if n := timers.Len(); n != 1 {
		t.Fatalf("notices after the cancel: %d, want 1 (the one not cancelled)", n)
	}
	go timers.Run(ctx)
	select {
	case token := <-fired:
		if token != "lapses" {
			t.Fatalf("fired %q, want only the hold that was not cancelled", token)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notice within 5s")
	}
	if n := timers.Len(); n != 0 {
		t.Errorf("notices left: %d, want 0", n)
	}
}
