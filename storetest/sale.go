package storetest

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

// testSales: a booking reads back with its show and its seats' labels in
// seat-map order; a user's bookings come newest first, a page at a time.
func testSales(t *testing.T, s Store) {
	f := newShow(t, s, 2, 5)
	var ids []string
	for i, seats := range [][]string{{f.seats[6], f.seats[1]}, {f.seats[2]}, {f.seats[3]}} {
		h := hold(t, s, f, "alice", minute, seats...)
		b, err := s.Book(t.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: f.show.ID, UserID: "alice", HoldToken: h.Token, SeatIDs: h.SeatIDs})
		if err != nil {
			t.Fatalf("book %d: %v", i, err)
		}
		ids = append(ids, b.ID)
		// Booking ids order bookings to the millisecond (UUIDv7).
		for ms := time.Now().UnixMilli(); time.Now().UnixMilli() == ms; {
			runtime.Gosched()
		}
	}
	hold(t, s, f, "bob", minute, f.seats[4])

	sale, err := s.Sale(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if sale.UserID != "alice" || sale.ShowID != f.show.ID || sale.Show.MovieTitle != f.show.MovieTitle || !sale.Show.StartsAt.Equal(f.show.StartsAt) {
		t.Errorf("got %+v, want alice's booking of %s", sale, f.show.MovieTitle)
	}
	if diff := cmp.Diff([]string{"A2", "B2"}, sale.Labels); diff != "" || sale.SeatIDs[0] != f.seats[1] {
		t.Errorf("labels (-want +got):\n%s (seats %v)", diff, sale.SeatIDs)
	}
	if _, err := s.Sale(t.Context(), booking.NewID()); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("an unknown booking: got %v, want ErrNotFound", err)
	}
	page, err := s.Sales(t.Context(), "alice", "", 2)
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("alice's first page: got %v (%v), want her two newest bookings", page, err)
	}
	rest, err := s.Sales(t.Context(), "alice", page[1].ID, 2)
	if err != nil || len(rest) != 1 || rest[0].ID != ids[0] || len(rest[0].SeatIDs) != 2 {
		t.Errorf("alice's second page: got %v (%v), want her first booking of two seats", rest, err)
	}
	if none, err := s.Sales(t.Context(), "bob", "", 10); err != nil || len(none) != 0 {
		t.Errorf("bob, who only holds: got %v (%v), want no bookings", none, err)
	}
}
