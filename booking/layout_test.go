package booking_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"seatmanager/booking"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const showID = "6f1c3d1e-8a0b-4c2e-9d4f-5e6a7b8c9d0f"

func layout(rows ...booking.RowLayout) booking.Layout {
	return booking.Layout{MovieTitle: "Metropolis", StartsAt: now.Add(24 * time.Hour), Auditorium: "Hall 1", Rows: rows}
}

// TestLayoutSeats: seats are numbered 1..n per row, X counts one more after
// each aisle, accessible seats are marked, and ids derive from the show id
// and label.
func TestLayoutSeats(t *testing.T) {
	show, err := layout(
		booking.RowLayout{Label: "A", Seats: 5, AisleAfter: []int{2}, Accessible: []int{1}},
		booking.RowLayout{Label: "B", Seats: 3, Category: "premium"},
	).ShowOf(showID, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	type seat struct {
		Label, Category string
		X               int
		Accessible      bool
	}
	var got []seat
	for _, s := range show.Seats {
		got = append(got, seat{s.Label(), s.Category, s.X, s.Accessible})
		if s.ID != booking.NameID(showID, s.Label()) {
			t.Errorf("seat %s has id %s, want the name id of its show and label", s.Label(), s.ID)
		}
	}
	want := []seat{
		{"A1", "standard", 1, true}, {"A2", "standard", 2, false}, {"A3", "standard", 4, false},
		{"A4", "standard", 5, false}, {"A5", "standard", 6, false},
		{"B1", "premium", 1, false}, {"B2", "premium", 2, false}, {"B3", "premium", 3, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("seats (-want +got):\n%s", diff)
	}
}

// TestLayoutRefusals: each bad layout is an ErrInvalid naming what is wrong.
func TestLayoutRefusals(t *testing.T) {
	row := booking.RowLayout{Label: "A", Seats: 10}
	past := layout(row)
	past.StartsAt = now.Add(-time.Minute)
	noTitle := layout(row)
	noTitle.MovieTitle = " "
	noAuditorium := layout(row)
	noAuditorium.Auditorium = ""
	noStart := layout(row)
	noStart.StartsAt = time.Time{}
	for _, tt := range []struct {
		name   string
		l      booking.Layout
		detail string
	}{
		{"no rows", layout(), "at least one row"},
		{"duplicate row", layout(row, row), `"A" names two rows`},
		{"empty label", layout(booking.RowLayout{Seats: 1}), "label"},
		{"zero seats", layout(booking.RowLayout{Label: "A"}), "at least 1"},
		{"too many seats", layout(booking.RowLayout{Label: "A", Seats: 60}, booking.RowLayout{Label: "B", Seats: 41}), "more than 100 seats"},
		{"accessible outside", layout(booking.RowLayout{Label: "A", Seats: 4, Accessible: []int{5}}), "accessible names seat 5"},
		{"aisle outside", layout(booking.RowLayout{Label: "A", Seats: 4, AisleAfter: []int{0}}), "aisleAfter names seat 0"},
		{"two seats of one label", layout(booking.RowLayout{Label: "R1", Seats: 11}, booking.RowLayout{Label: "R1-", Seats: 11}), "both have a seat R1-1:"},
		{"no title", noTitle, "movieTitle"},
		{"no auditorium", noAuditorium, "auditorium"},
		{"no start", noStart, "startsAt is required"},
		{"start in the past", past, "in the past"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.ShowOf(showID, now, 100)
			if !errors.Is(err, booking.ErrInvalid) || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("got %v, want ErrInvalid saying %q", err, tt.detail)
			}
		})
	}
}
