package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

// testSeatGeometry: a show made from a layout keeps each seat's column and
// accessibility, and its seat map lists rows front to back.
func testSeatGeometry(t *testing.T, s Store) {
	l := booking.Layout{MovieTitle: "Layout", StartsAt: time.Now().Add(time.Hour), Auditorium: "Hall 9", Rows: []booking.RowLayout{
		{Label: "A", Seats: 4, AisleAfter: []int{2}, Accessible: []int{4}},
		{Label: "B", Seats: 2, Category: "premium"},
	}}
	show, err := l.ShowOf(booking.NewID(), time.Now(), booking.DefaultMaxLayoutSeats)
	if err != nil {
		t.Fatal(err)
	}
	if created, err := s.CreateShow(t.Context(), show); err != nil || !created {
		t.Fatalf("CreateShow: got (%v, %v), want (true, nil)", created, err)
	}
	m, err := s.SeatMap(t.Context(), show.ID)
	if err != nil {
		t.Fatal(err)
	}
	type seat struct {
		Label      string
		X          int
		Accessible bool
	}
	var got []seat
	for _, st := range m.Seats {
		got = append(got, seat{st.Label, st.X, st.Accessible})
	}
	want := []seat{{"A1", 1, false}, {"A2", 2, false}, {"A3", 4, false}, {"A4", 5, true}, {"B1", 1, false}, {"B2", 2, false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("seats (-want +got):\n%s", diff)
	}
}
