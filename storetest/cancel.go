package storetest

import (
	"errors"
	"testing"
	"time"

	"seatmanager/booking"
)

// sell holds and books seats for user and returns the booking.
func sell(t *testing.T, s Store, f fixture, user string, seats ...string) booking.Booking {
	t.Helper()
	h := hold(t, s, f, user, minute, seats...)
	b, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: user, HoldToken: h.Token, SeatIDs: h.SeatIDs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCancel: a buyer's cancellation frees the seats with their events and
// reads back as cancelled; nobody else may cancel it, nor anyone twice.
func testCancel(t *testing.T, s Store) {
	f := newShow(t, s, 1, 4)
	b := sell(t, s, f, "alice", f.seats[0], f.seats[1])
	before := len(events(t, s, f.show.ID))
	if _, err := s.Cancel(t.Context(), booking.CancelParams{BookingID: b.ID, UserID: "bob"}); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("bob cancels alice's booking: got %v, want ErrNotFound", err)
	}
	sale, err := s.Cancel(t.Context(), booking.CancelParams{BookingID: b.ID, UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if sale.CancelledAt.IsZero() || len(sale.SeatIDs) != 2 {
		t.Errorf("got %+v, want the booking of 2 seats, cancelled", sale)
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats[0], f.seats[1])
	ev := events(t, s, f.show.ID)
	wantGaplessEvents(t, ev)
	if len(ev) != before+2 || ev[len(ev)-1].Status != booking.StatusAvailable || ev[len(ev)-1].BookingID != b.ID {
		t.Errorf("got events %+v, want two more: the seats available, from booking %s", ev[before:], b.ID)
	}
	if read, err := s.Sale(t.Context(), b.ID); err != nil || read.CancelledAt.IsZero() {
		t.Errorf("the cancelled booking reads as %+v (%v), want cancelled", read, err)
	}
	if _, err := s.Cancel(t.Context(), booking.CancelParams{BookingID: b.ID, UserID: "alice"}); !errors.Is(err, booking.ErrLimitReached) {
		t.Errorf("a second cancellation: got %v, want ErrLimitReached", err)
	}
	// The seats sell again.
	again := sell(t, s, f, "carol", f.seats[0])
	if live, err := s.Sale(t.Context(), again.ID); err != nil || !live.CancelledAt.IsZero() {
		t.Errorf("carol's booking: got %+v (%v), want live", live, err)
	}
}

// testCancelAfterStart: once a show started only an operator may cancel.
func testCancelAfterStart(t *testing.T, s Store) {
	show := NewShowSpec(1, 2)
	show.StartsAt = time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond).UTC()
	if _, err := s.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	f := fixture{show: show, seats: []string{show.Seats[0].ID, show.Seats[1].ID}}
	b := sell(t, s, f, "alice", f.seats...)
	time.Sleep(time.Until(show.StartsAt.Add(50 * time.Millisecond))) // until the show's start: a point in time
	if _, err := s.Cancel(t.Context(), booking.CancelParams{BookingID: b.ID, UserID: "alice"}); !errors.Is(err, booking.ErrLimitReached) {
		t.Errorf("alice cancels after the start: got %v, want ErrLimitReached", err)
	}
	if _, err := s.Cancel(t.Context(), booking.CancelParams{BookingID: b.ID, UserID: "box-office", Operator: true}); err != nil {
		t.Errorf("an operator cancels after the start: %v", err)
	}
	wantStatus(t, s, f, booking.StatusAvailable, f.seats...)
}

// testCancelRaces: two cancellations of one booking and a new buyer of its
// seats at once: one cancellation wins, the seats are sold to at most one.
func testCancelRaces(t *testing.T, s Store) {
	f := newShow(t, s, 1, 3)
	for range 20 {
		b := sell(t, s, f, "alice", f.seats[0], f.seats[1])
		var cancels [2]error
		var bought error
		race(3, func(i int) {
			if i < 2 {
				_, cancels[i] = s.Cancel(t.Context(), booking.CancelParams{BookingID: b.ID, UserID: "alice"})
				return
			}
			h, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: f.show.ID, UserID: "bob", SeatIDs: f.seats[:2], TTL: minute})
			if err == nil {
				_, err = s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "bob", HoldToken: h.Token, SeatIDs: h.SeatIDs})
			}
			bought = err
		})
		if (cancels[0] == nil) == (cancels[1] == nil) {
			t.Fatalf("two cancellations of one booking: got %v and %v, want exactly one to succeed", cancels[0], cancels[1])
		}
		sold := 0
		for _, sale := range mustSales(t, s, "bob") {
			sold += len(sale.SeatIDs)
		}
		st := statuses(t, s, f)
		switch {
		case bought == nil && (sold != 2 || st[f.seats[0]] != booking.StatusBooked):
			t.Fatalf("bob was told he bought, but has %d seats and seat 0 is %s", sold, st[f.seats[0]])
		case bought != nil && st[f.seats[0]] != booking.StatusAvailable:
			t.Fatalf("bob was refused (%v), but seat 0 is %s", bought, st[f.seats[0]])
		}
		if bought == nil { // bob gives them back for the next round
			for _, sale := range mustSales(t, s, "bob") {
				if _, err := s.Cancel(t.Context(), booking.CancelParams{BookingID: sale.ID, UserID: "bob"}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	wantGaplessEvents(t, events(t, s, f.show.ID))
}

func mustSales(t *testing.T, s Store, user string) []booking.Sale {
	t.Helper()
	sales, err := s.Sales(t.Context(), user, "", booking.MaxSalesPage)
	if err != nil {
		t.Fatal(err)
	}
	return sales
}
