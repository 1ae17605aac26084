package booking

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Layout is how an operator describes a show: its movie, time and
// auditorium, and the auditorium's rows front to back. Seats are numbered 1
// to Seats in each row.
type Layout struct {
	MovieTitle string
	StartsAt   time.Time
	Auditorium string
	Rows       []RowLayout
}

// RowLayout is one row of seats. AisleAfter lists the seat numbers an aisle
// follows; Accessible those of wheelchair-accessible seats.
type RowLayout struct {
	Label      string
	Seats      int
	Category   string
	AisleAfter []int
	Accessible []int
}

// DefaultMaxLayoutSeats caps the seats of one show unless configured: a
// stadium, not a typo of three more zeros.
const DefaultMaxLayoutSeats = 100_000

// maxText bounds a layout's names: they are shown on tickets, not essays.
const maxText = 200

// maxRowLabel bounds a row label: "A", "AA", "Balcony 3".
const maxRowLabel = 16

// CreateShow makes a show from an operator's layout, all its seats on sale.
func (s *Service) CreateShow(ctx context.Context, l Layout, idem *Idempotent) (Show, error) {
	show, err := l.ShowOf(NewID(), time.Now(), s.cfg.MaxShowSeats)
	if err != nil {
		return Show{}, err
	}
	if err := idem.claim(); err != nil {
		return Show{}, err
	}
	show.Idempotent = idem
	created, err := s.store.CreateShow(ctx, show)
	switch {
	case err != nil:
		return Show{}, err
	case !created: // a fresh id is taken: this request ran before
		return Show{}, ErrDuplicateRequest
	}
	return show.Created(), nil
}

// ShowOf validates l and returns the show it describes, with id, created at
// now, of at most maxSeats seats. Seat ids derive from the show's id and the
// seat's label, so the same layout under the same id makes the same seats.
// A seat's X is its column counting one for each aisle before it, so that a
// renderer, or a best-available search, sees the geometry.
func (l Layout) ShowOf(id string, now time.Time, maxSeats int) (NewShow, error) {
	if err := l.check(now, maxSeats); err != nil {
		return NewShow{}, err
	}
	show := NewShow{ID: id, MovieTitle: l.MovieTitle, StartsAt: l.StartsAt.UTC(), Auditorium: l.Auditorium}
	rowOf := make(map[string]string) // seat label → its row, to find two seats of one name
	for _, r := range l.Rows {
		category := r.Category
		if category == "" {
			category = "standard"
		}
		x := 0
		for n := 1; n <= r.Seats; n++ {
			x++
			label := SeatLabel(r.Label, n)
			if other, taken := rowOf[label]; taken {
				return NewShow{}, Invalidf("rows %q and %q both have a seat %s: rename one", other, r.Label, label)
			}
			rowOf[label] = r.Label
			show.Seats = append(show.Seats, NewSeat{
				ID: NameID(id, label), Row: r.Label, Number: n, Category: category,
				Accessible: slices.Contains(r.Accessible, n), X: x,
			})
			if slices.Contains(r.AisleAfter, n) {
				x++
			}
		}
	}
	return show, nil
}

// check returns an ErrInvalid error naming the first thing wrong with l.
func (l Layout) check(now time.Time, maxSeats int) error {
	switch {
	case strings.TrimSpace(l.MovieTitle) == "" || len(l.MovieTitle) > maxText:
		return Invalidf("movieTitle is required, at most %d bytes", maxText)
	case strings.TrimSpace(l.Auditorium) == "" || len(l.Auditorium) > maxText:
		return Invalidf("auditorium is required, at most %d bytes", maxText)
	case l.StartsAt.IsZero():
		return Invalidf("startsAt is required (RFC 3339, like 2027-01-31T20:00:00Z)")
	case !l.StartsAt.After(now):
		return Invalidf("startsAt %s is in the past", l.StartsAt.UTC().Format(time.RFC3339))
	case len(l.Rows) == 0:
		return Invalidf("rows: a layout needs at least one row")
	}
	labels := make(map[string]bool, len(l.Rows))
	total := 0
	for i, r := range l.Rows {
		switch {
		case r.Label == "" || len(r.Label) > maxRowLabel || strings.TrimSpace(r.Label) != r.Label:
			return Invalidf("rows[%d].label must be 1 to %d characters, with no space around them", i, maxRowLabel)
		case labels[r.Label]:
			return Invalidf("rows[%d].label %q names two rows", i, r.Label)
		case r.Seats < 1:
			return Invalidf("row %s: seats must be at least 1", r.Label)
		case len(r.Category) > maxText:
			return Invalidf("row %s: category is at most %d bytes", r.Label, maxText)
		}
		labels[r.Label] = true
		if total += r.Seats; total > maxSeats {
			return Invalidf("the layout has more than %d seats, the most a show may have", maxSeats)
		}
		for _, list := range []struct {
			name string
			nums []int
		}{{"aisleAfter", r.AisleAfter}, {"accessible", r.Accessible}} {
			for _, n := range list.nums {
				if n < 1 || n > r.Seats {
					return Invalidf("row %s: %s names seat %d, outside the row's seats 1 to %d", r.Label, list.name, n, r.Seats)
				}
			}
		}
	}
	return nil
}
