package storetest

import (
	"errors"
	"math/rand/v2"
	"testing"

	"seatmanager/booking"
)

// Many changes of one show's seats at once: no seat is held or sold twice,
// and each change is whole or absent.

func testConcurrentHolds(t *testing.T, s Store) {
	f := newShow(t, s, 1, 10)
	const n = 100
	holds := make([]booking.Hold, n)
	errs := make([]error, n)
	race(n, func(i int) {
		r := rand.New(rand.NewPCG(uint64(i), 1))
		seatIDs := pick(r, f.seats, 1+r.IntN(3))
		holds[i], errs[i] = s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: userN(i), SeatIDs: seatIDs, TTL: minute})
	})
	owner := make(map[string]string)
	for i, err := range errs {
		if err != nil {
			if !errors.Is(err, booking.ErrSeatUnavailable) {
				t.Errorf("hold %d: got %v, want success or ErrSeatUnavailable", i, err)
			}
			continue
		}
		for _, id := range holds[i].SeatIDs {
			if other, ok := owner[id]; ok {
				t.Errorf("seat %s held by both %s and %s", id, other, holds[i].UserID)
			}
			owner[id] = holds[i].UserID
		}
	}
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	if len(ev) != len(owner) {
		t.Errorf("got %d events, want one per held seat (%d)", len(ev), len(owner))
	}
}

func testConcurrentHoldAndBook(t *testing.T, s Store) {
	f := newShow(t, s, 1, 10)
	const n = 100
	bookings := make([]booking.Booking, n)
	race(n, func(i int) {
		r := rand.New(rand.NewPCG(uint64(i), 2))
		seatIDs := pick(r, f.seats, 1+r.IntN(3))
		h, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: userN(i), SeatIDs: seatIDs, TTL: minute})
		if err != nil {
			return
		}
		b, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: userN(i), HoldToken: h.Token, SeatIDs: seatIDs})
		if err != nil {
			t.Errorf("user %d could not book its own hold: %v", i, err)
			return
		}
		bookings[i] = b
	})
	soldTo := make(map[string]string)
	for _, b := range bookings {
		for _, id := range b.SeatIDs {
			if other, ok := soldTo[id]; ok {
				t.Errorf("seat %s sold to both %s and %s", id, other, b.UserID)
			}
			soldTo[id] = b.UserID
		}
	}
	got := statuses(t, s, f)
	for _, id := range f.seats {
		if _, sold := soldTo[id]; sold != (got[id] == booking.StatusBooked) {
			t.Errorf("seat %s: status %q, but sold=%v", id, got[id], sold)
		}
	}
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	booked := make(map[string]int)
	for _, e := range ev {
		if e.Status == booking.StatusBooked {
			booked[e.SeatID]++
		}
	}
	for id, count := range booked {
		if count != 1 {
			t.Errorf("seat %s booked %d times in the event log", id, count)
		}
	}
}

// pick returns k distinct seats of seats, in random order.
func pick(r *rand.Rand, seats []string, k int) []string {
	perm := r.Perm(len(seats))[:k]
	out := make([]string, k)
	for i, j := range perm {
		out[i] = seats[j]
	}
	return out
}
