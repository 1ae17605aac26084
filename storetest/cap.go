package storetest

import (
	"errors"
	"testing"
	"time"

	"seatmanager/booking"
)

// capped holds seats for user under a cap of maxHeld.
func capped(t *testing.T, s Store, f fixture, user string, maxHeld int, ttl time.Duration, seatIDs ...string) (booking.Hold, error) {
	t.Helper()
	return s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: user, SeatIDs: seatIDs, TTL: ttl, MaxHeld: maxHeld})
}

// testHeldCap: a user holds at most MaxHeld seats of a show; booked,
// released and lapsed seats, other users' seats and other shows' do not
// count.
func testHeldCap(t *testing.T, s Store) {
	f := newShow(t, s, 2, 6)
	other := newShow(t, s, 1, 4)
	const maxHeld = 4
	if _, err := capped(t, s, other, "alice", maxHeld, minute, other.seats...); err != nil {
		t.Fatalf("alice holds 4 of another show: %v", err)
	}
	if _, err := capped(t, s, f, "bob", maxHeld, minute, f.seats[8:12]...); err != nil {
		t.Fatalf("bob holds 4: %v", err)
	}
	h, err := capped(t, s, f, "alice", maxHeld, minute, f.seats[0], f.seats[1], f.seats[2])
	if err != nil {
		t.Fatalf("alice holds 3 of 4: %v", err)
	}
	_, err = capped(t, s, f, "alice", maxHeld, minute, f.seats[3], f.seats[4])
	if !errors.Is(err, booking.ErrLimitReached) {
		t.Fatalf("alice asks for 2 more: got %v, want ErrLimitReached", err)
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[3], f.seats[4])
	if _, err := capped(t, s, f, "alice", maxHeld, minute, f.seats[3]); err != nil {
		t.Fatalf("alice holds her 4th: %v", err)
	}
	// Booking one and releasing one give two back.
	if _, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: f.seats[:1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(t.Context(), booking.ReleaseParams{ShowID: f.show.ID, UserID: "alice", SeatIDs: f.seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := capped(t, s, f, "alice", maxHeld, time.Millisecond, f.seats[4], f.seats[5]); err != nil {
		t.Fatalf("alice holds 2 after booking and releasing 2: %v", err)
	}
	// Those two lapse, and no longer count.
	awaitLapse(t, s, f, f.seats[4])
	awaitLapse(t, s, f, f.seats[5])
	if _, err := capped(t, s, f, "alice", maxHeld, minute, f.seats[6], f.seats[7]); err != nil {
		t.Fatalf("alice holds 2 once her last 2 lapsed: %v", err)
	}
}

// testHeldCapParallel: parallel holds of one user never pass the cap.
func testHeldCapParallel(t *testing.T, s Store) {
	f := newShow(t, s, 5, 10)
	const n, maxHeld = 50, 10
	errs := make([]error, n)
	race(n, func(i int) {
		_, errs[i] = capped(t, s, f, "alice", maxHeld, minute, f.seats[i])
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, booking.ErrLimitReached):
			t.Errorf("hold %d: got %v, want success or ErrLimitReached", i, err)
		}
	}
	held := 0
	for _, st := range statuses(t, s, f) {
		if st == booking.StatusHeld {
			held++
		}
	}
	if won != maxHeld || held != maxHeld {
		t.Errorf("50 parallel holds of one seat each: %d succeeded and %d seats are held, want %d and %d", won, held, maxHeld, maxHeld)
	}
}
