package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"seatmanager/booking"
)

// demoNamespace makes demo ids deterministic (UUIDv5 of the show's title and
// date): two instances seeding one empty database at once insert the same shows,
// and the second insert does nothing.
const demoNamespace = "6f1c3d1e-8a0b-4c2e-9d4f-5e6a7b8c9d0e"

var demoMovies = []struct {
	title      string
	auditorium string
	hour, min  int
}{
	{"Casablanca", "Hall 1", 18, 0},
	{"Seven Samurai", "Hall 2", 19, 30},
	{"Spirited Away", "Hall 3", 17, 15},
	{"Metropolis", "Hall 1", 21, 0},
}

// demoLayout is every demo auditorium: 10 rows (A–J) of 12 seats with an
// aisle down the middle, the back two rows premium, the front row's outer
// seats accessible.
func demoLayout() []booking.RowLayout {
	rows := make([]booking.RowLayout, 10)
	for r := range rows {
		rows[r] = booking.RowLayout{Label: string(rune('A' + r)), Seats: 12, Category: "standard", AisleAfter: []int{6}}
		if r >= 8 {
			rows[r].Category = "premium"
		}
	}
	rows[0].Accessible = []int{1, 12}
	return rows
}

// demoShows returns n demo shows from the day after now on, four a day, made
// from their layout as an operator's shows are. Load tests ask for many, so
// that buyers spread over many shows.
func demoShows(now time.Time, n int) []booking.NewShow {
	first := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	shows := make([]booking.NewShow, n)
	for i := range n {
		m := demoMovies[i%len(demoMovies)]
		day := first.AddDate(0, 0, i/len(demoMovies))
		startsAt := day.Add(time.Duration(m.hour)*time.Hour + time.Duration(m.min)*time.Minute)
		id := booking.NameID(demoNamespace, m.title+"@"+startsAt.Format(time.RFC3339))
		layout := booking.Layout{MovieTitle: m.title, StartsAt: startsAt, Auditorium: m.auditorium, Rows: demoLayout()}
		show, err := layout.ShowOf(id, now, booking.DefaultMaxLayoutSeats)
		if err != nil {
			panic("the demo layout is invalid: " + err.Error()) // a bug here, caught by the tests
		}
		shows[i] = show
	}
	return shows
}

// seedDemo adds n demo shows if the database has no show at all; with reset,
// it first deletes every show and everything of them.
func seedDemo(ctx context.Context, s store, now time.Time, n int, reset bool, log *slog.Logger) error {
	if reset {
		if err := s.Reset(ctx); err != nil {
			return fmt.Errorf("reset the demo data: %w", err)
		}
		log.Warn("deleted every show, seat, hold, booking, event and stored answer (demo reset)")
	}
	existing, err := s.Shows(ctx)
	if err != nil {
		return fmt.Errorf("seed demo shows: %w", err)
	}
	if len(existing) > 0 {
		log.Info("demo shows not seeded: the database has shows already; SEATD_DEMO_RESET=true starts it afresh",
			"shows", len(existing))
		return nil
	}
	seeded := 0
	for _, show := range demoShows(now, n) {
		created, err := s.CreateShow(ctx, show)
		if err != nil {
			return fmt.Errorf("seed demo show %s: %w", show.MovieTitle, err)
		}
		if created {
			seeded++
			log.Debug("seeded demo show", "id", show.ID, "movie", show.MovieTitle, "starts_at", show.StartsAt, "seats", len(show.Seats))
		}
	}
	log.Info("seeded demo shows", "shows", seeded, "seats_each", 120)
	return nil
}
