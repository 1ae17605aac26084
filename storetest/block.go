package storetest

import (
	"testing"

	"seatmanager/booking"
)

func block(t *testing.T, s Store, f fixture, on bool, seats ...string) (booking.Blocking, error) {
	t.Helper()
	return s.Block(t.Context(), booking.BlockParams{ShowID: f.show.ID, SeatIDs: seats, Block: on})
}

// testBlock: a blocked seat shows as blocked, cannot be held until it is
// unblocked, and blocking a held or booked seat is refused, all or nothing;
// each change is an event.
func testBlock(t *testing.T, s Store) {
	f := newShow(t, s, 1, 5)
	other := newShow(t, s, 1, 1)
	hold(t, s, f, "alice", minute, f.seats[1])
	sell(t, s, f, "bob", f.seats[2])
	start := len(events(t, s, f.show.ID))

	_, err := block(t, s, f, true, f.seats[0], f.seats[1], f.seats[2])
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[1], f.seats[2])
	_, err = block(t, s, f, true, f.seats[0], other.seats[0])
	wantSeatError(t, err, booking.ErrNotFound, other.seats[0])
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0])

	if _, err := block(t, s, f, true, f.seats[0], f.seats[3]); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, s, f, booking.StatusBlocked, f.seats[0], f.seats[3])
	_, err = s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "carol", SeatIDs: f.seats[3:5], TTL: minute})
	wantSeatError(t, err, booking.ErrSeatUnavailable, f.seats[3])
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[4])
	if taken, err := s.TakenSeats(t.Context(), f.seats[3:4]); err != nil || taken[f.seats[3]] != (booking.Taken{ShowID: f.show.ID}) {
		t.Errorf("TakenSeats of a blocked seat: got %v (%v), want it taken, by no one, for good", taken, err)
	}
	// Blocking again changes nothing; unblocking frees.
	if _, err := block(t, s, f, true, f.seats[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := block(t, s, f, false, f.seats[0], f.seats[3], f.seats[4]); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0], f.seats[3], f.seats[4])
	hold(t, s, f, "carol", minute, f.seats[3])

	ev := events(t, s, f.show.ID)[start:]
	wantGaplessEvents(t, events(t, s, f.show.ID))
	var statuses []booking.Status
	for _, e := range ev {
		statuses = append(statuses, e.Status)
	}
	want := []booking.Status{booking.StatusBlocked, booking.StatusBlocked, booking.StatusAvailable, booking.StatusAvailable, booking.StatusHeld}
	if len(statuses) != len(want) {
		t.Fatalf("events after blocking: got %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Errorf("event %d: got %s, want %s", i, statuses[i], want[i])
		}
	}
}
