package memory

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/markertest"
)

func TestMarkers(t *testing.T) {
	markertest.Run(t, func(t *testing.T) idempotency.Markers { return NewMarkers(0) })
}

// TestMarkersExpiryFakeClock checks expiry against the injected clock: a lease
// and a done mark last exactly their ttl, to the nanosecond, and LeaseLeft counts
// down with the clock, which the wall-clock suite cannot show.
func TestMarkersExpiryFakeClock(t *testing.T) {
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	m := NewMarkers(0)
	m.Now = func() time.Time { return now }
	ctx := t.Context()
	id, fp := booking.NewID(), booking.NewID()
	claim := func(lease string) idempotency.Mark {
		t.Helper()
		got, err := m.Claim(ctx, id, lease, booking.NewID(), time.Hour)
		if err != nil {
			t.Fatalf("Claim: got error %v, want nil", err)
		}
		return got
	}

	if got, err := m.Claim(ctx, id, booking.NewID(), fp, time.Minute); err != nil || !got.Claimed {
		t.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
	}
	now = now.Add(20 * time.Second)
	if got := claim(booking.NewID()); got.Claimed || got.LeaseLeft != 40*time.Second {
		t.Errorf("Claim 20s into a 1m lease: got %+v, want not Claimed, LeaseLeft 40s", got)
	}
	now = now.Add(40*time.Second - time.Nanosecond)
	if got := claim(booking.NewID()); got.Claimed || got.LeaseLeft != time.Nanosecond {
		t.Fatalf("Claim 1ns before the lease ends: got %+v, want not Claimed, LeaseLeft 1ns", got)
	}
	now = now.Add(time.Nanosecond)
	lease := booking.NewID()
	if got := claim(lease); !got.Claimed {
		t.Fatalf("Claim when the lease ends: got %+v, want Claimed", got)
	}

	if err := m.Complete(ctx, id, lease, fp, []byte("done"), 24*time.Hour); err != nil {
		t.Fatalf("Complete: got %v, want nil", err)
	}
	now = now.Add(24*time.Hour - time.Nanosecond)
	if got := claim(booking.NewID()); got.Claimed || string(got.Response) != "done" {
		t.Fatalf("Claim 1ns before the done mark ends: got %+v, want the done mark", got)
	}
	now = now.Add(time.Nanosecond)
	if got := claim(booking.NewID()); !got.Claimed {
		t.Fatalf("Claim when the done mark ends: got %+v, want Claimed", got)
	}
}

// TestMarkersExpirySynctest runs a lease and a done mark out on the bubble's
// fake clock with the default clock, proving NewMarkers reads time.Now at each
// call.
func TestMarkersExpirySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMarkers(0)
		ctx := t.Context()
		id, lease, fp := booking.NewID(), booking.NewID(), booking.NewID()
		if got, err := m.Claim(ctx, id, lease, fp, 30*time.Second); err != nil || !got.Claimed {
			t.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
		}
		time.Sleep(30*time.Second - time.Millisecond)
		if got, _ := m.Claim(ctx, id, booking.NewID(), booking.NewID(), time.Minute); got.Claimed || got.LeaseLeft != time.Millisecond {
			t.Fatalf("Claim before the lease ends: got %+v, want not Claimed, LeaseLeft 1ms", got)
		}
		time.Sleep(time.Millisecond)
		// The lease ran out and nobody took over: its owner may still complete.
		if err := m.Complete(ctx, id, lease, fp, []byte("late"), time.Hour); err != nil {
			t.Fatalf("Complete: got %v, want nil", err)
		}
		time.Sleep(time.Hour - time.Millisecond)
		if got, _ := m.Claim(ctx, id, booking.NewID(), booking.NewID(), time.Minute); got.Claimed || string(got.Response) != "late" {
			t.Fatalf("Claim before the done mark ends: got %+v, want the done mark", got)
		}
		time.Sleep(time.Millisecond)
		if got, _ := m.Claim(ctx, id, booking.NewID(), booking.NewID(), time.Minute); !got.Claimed {
			t.Fatalf("Claim after the done mark ends: got %+v, want Claimed", got)
		}
	})
}

// TestMarkersPrunes checks that marks nobody asks for again do not pile up: the
// map stays within a constant factor of the live marks however many expire.
func TestMarkersPrunes(t *testing.T) {
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	m := NewMarkers(0)
	m.Now = func() time.Time { return now }
	ctx := t.Context()
	const live = 100
	for i := range live {
		if _, err := m.Claim(ctx, fmt.Sprint("live-", i), booking.NewID(), "fp", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	maxSize := 0
	for i := range 100_000 {
		id := booking.NewID()
		// Half the ids are answered, half abandoned by a lease that died: both
		// kinds must go.
		if i%2 == 0 {
			if err := m.Complete(ctx, id, booking.NewID(), "fp", []byte("r"), time.Second); err != nil {
				t.Fatal(err)
			}
		} else if _, err := m.Claim(ctx, id, booking.NewID(), "fp", time.Second); err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Millisecond) // at most ~100 short marks alive at once
		maxSize = max(maxSize, m.marks.len())
	}
	if limit := 2 * minPruneAt; maxSize > limit {
		t.Errorf("map size: got up to %d, want at most %d", maxSize, limit)
	}
	// Pruning must not drop live marks.
	for i := range live {
		id := fmt.Sprint("live-", i)
		if got, _ := m.Claim(ctx, id, booking.NewID(), "other", time.Hour); got.Claimed {
			t.Fatalf("live mark %s after pruning: got Claimed, want it still in flight", id)
		}
	}
}

// TestMarkersCancelled pins which calls a cancelled context stops: Claim starts
// work and should not, while Complete and Abandon tidy up after it and must.
func TestMarkersCancelled(t *testing.T) {
	m := NewMarkers(0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id, lease := booking.NewID(), booking.NewID()
	if got, err := m.Claim(ctx, id, lease, "fp", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim with a cancelled context: got %+v, %v, want context.Canceled", got, err)
	}
	if got, err := m.Claim(t.Context(), id, lease, "fp", time.Minute); err != nil || !got.Claimed {
		t.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
	}
	if err := m.Abandon(ctx, id, lease); err != nil {
		t.Errorf("Abandon with a cancelled context: got %v, want nil", err)
	}
	if err := m.Complete(ctx, id, lease, "fp", []byte("r"), time.Minute); err != nil {
		t.Errorf("Complete with a cancelled context: got %v, want nil", err)
	}
	if got, _ := m.Claim(t.Context(), id, booking.NewID(), "other", time.Minute); got.Claimed || string(got.Response) != "r" {
		t.Errorf("Claim after Abandon and Complete: got %+v, want the done mark", got)
	}
}

func TestMarkersEmptyResponse(t *testing.T) {
	m := NewMarkers(0)
	if err := m.Complete(t.Context(), booking.NewID(), booking.NewID(), "fp", nil, time.Minute); !errors.Is(err, idempotency.ErrEmptyResponse) {
		t.Errorf("Complete with a nil response: got %v, want errEmptyResponse", err)
	}
}

// BenchmarkMarkers measures one request's worth of markers: Claim, then
// Complete. The clock moves a millisecond per request and answers last a second,
// so the map holds a steady thousand marks and pruning is part of the cost, as
// in a server that has run for a while.
func BenchmarkMarkers(b *testing.B) {
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	m := NewMarkers(0)
	m.Now = func() time.Time { return now }
	ctx := b.Context()
	resp := []byte(`{"holdToken":"0b7c8e2a-6f0e-4c4e-9a55-0d1f2e3a4b5c","expiresAt":"2030-01-01T20:01:00Z"}`)
	for b.Loop() {
		id, lease := booking.NewID(), booking.NewID()
		if got, err := m.Claim(ctx, id, lease, "fp", time.Minute); err != nil || !got.Claimed {
			b.Fatalf("Claim: got %+v, %v, want Claimed, nil", got, err)
		}
		if err := m.Complete(ctx, id, lease, "fp", resp, time.Second); err != nil {
			b.Fatal(err)
		}
		now = now.Add(time.Millisecond)
	}
}

// TestMarkersBoundedBySize: however many answers are cached, the markers
// hold at most their bytes; the oldest are forgotten first, and the newest
// still answer.
func TestMarkersBoundedBySize(t *testing.T) {
	const max = 64 << 10
	m := NewMarkers(max)
	ctx := t.Context()
	answer := make([]byte, 300)
	for i := range 10000 {
		id := fmt.Sprint("key-", i)
		lease := booking.NewID()
		if _, err := m.Claim(ctx, id, lease, "fp", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := m.Complete(ctx, id, lease, "fp", answer, time.Hour); err != nil {
			t.Fatal(err)
		}
		if m.marks.bytes > max {
			t.Fatalf("after %d answers: %d bytes held, want at most %d", i+1, m.marks.bytes, max)
		}
	}
	if n := m.marks.len(); n < 50 || n > max/len(answer) {
		t.Errorf("got %d marks held, want as many as fit in %d bytes", n, max)
	}
	if len(m.marks.order) > 4*m.marks.len()+2*minPruneAt {
		t.Errorf("eviction order has %d entries for %d marks: it grows without bound", len(m.marks.order), m.marks.len())
	}
	if got, _ := m.Claim(ctx, "key-9999", booking.NewID(), "fp", time.Minute); got.Response == nil {
		t.Error("the newest answer was forgotten")
	}
	if got, _ := m.Claim(ctx, "key-0", booking.NewID(), "fp", time.Minute); !got.Claimed {
		t.Error("the oldest answer is still held")
	}
}
