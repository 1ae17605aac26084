package memory

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"seatmanager/booking"
	"seatmanager/gatetest"
)

func TestGate(t *testing.T) {
	gatetest.Run(t, func(t *testing.T) booking.Gate { return NewGate() })
}

// TestGateExpiryFakeClock checks expiry against the injected clock: a hold lasts
// exactly its ttl, to the nanosecond, which the wall-clock suite cannot show.
func TestGateExpiryFakeClock(t *testing.T) {
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	g := NewGate()
	g.Now = func() time.Time { return now }
	show, seat := booking.NewID(), booking.NewID()
	a, b := booking.NewID(), booking.NewID()
	if taken, err := g.Acquire(t.Context(), show, a, []string{seat}, time.Minute); err != nil || len(taken) != 0 {
		t.Fatalf("Acquire: got %v, %v, want none, nil", taken, err)
	}
	now = now.Add(time.Minute - time.Nanosecond)
	if taken, _ := g.Acquire(t.Context(), show, b, []string{seat}, time.Minute); len(taken) != 1 {
		t.Fatalf("Acquire 1ns before expiry: got taken %v, want [%s]", taken, seat)
	}
	now = now.Add(time.Nanosecond)
	if taken, _ := g.Acquire(t.Context(), show, b, []string{seat}, time.Minute); len(taken) != 0 {
		t.Fatalf("Acquire at expiry: got taken %v, want none", taken)
	}
}

// TestGateExpirySynctest runs a hold's lapse on the bubble's fake clock with the
// default clock, proving NewGate reads time.Now at each call.
func TestGateExpirySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate()
		show, seats := booking.NewID(), []string{booking.NewID(), booking.NewID()}
		if taken, err := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute); err != nil || len(taken) != 0 {
			t.Fatalf("Acquire: got %v, %v, want none, nil", taken, err)
		}
		time.Sleep(time.Minute - time.Millisecond)
		if taken, _ := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute); len(taken) != 2 {
			t.Fatalf("Acquire before expiry: got taken %v, want both seats", taken)
		}
		time.Sleep(time.Millisecond)
		if taken, _ := g.Acquire(t.Context(), show, booking.NewID(), seats, time.Minute); len(taken) != 0 {
			t.Fatalf("Acquire after expiry: got taken %v, want none", taken)
		}
	})
}

// TestGatePrunes checks that abandoned holds do not pile up: the map stays within
// a constant factor of the live holds however many lapse.
func TestGatePrunes(t *testing.T) {
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	g := NewGate()
	g.Now = func() time.Time { return now }
	show := booking.NewID()
	const live = 100
	for i := range live {
		if _, err := g.Acquire(t.Context(), show, booking.NewID(), []string{fmt.Sprint("live-", i)}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	maxSize := 0
	for range 100_000 {
		if _, err := g.Acquire(t.Context(), show, booking.NewID(), []string{booking.NewID()}, time.Second); err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Millisecond) // at most ~100 short holds alive at once
		maxSize = max(maxSize, g.seats.len())
	}
	if limit := 2 * minPruneAt; maxSize > limit {
		t.Errorf("map size: got up to %d, want at most %d", maxSize, limit)
	}
	// Pruning must not drop live holds.
	for i := range live {
		id := fmt.Sprint("live-", i)
		if taken, _ := g.Acquire(t.Context(), show, booking.NewID(), []string{id}, time.Hour); len(taken) != 1 {
			t.Fatalf("live hold %s after pruning: got taken %v, want it held", id, taken)
		}
	}
}

func BenchmarkGate(b *testing.B) {
	g := NewGate()
	show := booking.NewID()
	seats := []string{booking.NewID(), booking.NewID(), booking.NewID(), booking.NewID()}
	ctx := b.Context()
	for b.Loop() {
		token := booking.NewID()
		if taken, err := g.Acquire(ctx, show, token, seats, time.Minute); err != nil || len(taken) != 0 {
			b.Fatalf("Acquire: got %v, %v, want none, nil", taken, err)
		}
		if err := g.Release(ctx, show, token, seats); err != nil {
			b.Fatal(err)
		}
	}
}
