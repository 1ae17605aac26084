package storetest

import (
	"testing"
	"time"

	"seatmanager/booking"
)

// Bench runs the store benchmarks: a 4-seat hold then its release (the seats
// go back, so the loop never runs out), the same from 64 goroutines at once,
// and a 4-seat hold then its booking (on fresh seats, shows created outside
// the timer).
func Bench(b *testing.B, newStore func(b *testing.B) Store) {
	b.Run("HoldRelease4", func(b *testing.B) {
		s := newStore(b)
		show := NewShowSpec(10, 12)
		if _, err := s.CreateShow(b.Context(), show); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			seats := seatsOf(show, i%30)
			i++
			h, err := s.Hold(b.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "bench", SeatIDs: seats, TTL: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Release(b.Context(), booking.ReleaseParams{ShowID: show.ID, UserID: "bench", HoldToken: h.Token, SeatIDs: seats}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HoldRelease4Parallel", func(b *testing.B) {
		// Many changes in flight at once, as under load: a store that writes
		// them together shows it here, and not in the serial loop above.
		s := newStore(b)
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			show := NewShowSpec(1, 4) // a show of its own: no waiting on another's seats
			if _, err := s.CreateShow(b.Context(), show); err != nil {
				b.Error(err)
				return
			}
			seats := seatsOf(show, 0)
			for pb.Next() {
				h, err := s.Hold(b.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "bench", SeatIDs: seats, TTL: time.Minute})
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := s.Release(b.Context(), booking.ReleaseParams{ShowID: show.ID, UserID: "bench", HoldToken: h.Token, SeatIDs: seats}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("HoldBook4", func(b *testing.B) {
		s := newStore(b)
		var show booking.NewShow
		i := 30 // a full show: create one at the first iteration
		for b.Loop() {
			if i == 30 {
				b.StopTimer()
				show = NewShowSpec(10, 12)
				if _, err := s.CreateShow(b.Context(), show); err != nil {
					b.Fatal(err)
				}
				i = 0
				b.StartTimer()
			}
			seats := seatsOf(show, i)
			i++
			h, err := s.Hold(b.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "bench", SeatIDs: seats, TTL: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Book(b.Context(), booking.BookParams{BookingID: booking.NewID(), ShowID: show.ID, UserID: "bench", HoldToken: h.Token, SeatIDs: seats}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// seatsOf returns the n-th group of 4 seats of a show.
func seatsOf(show booking.NewShow, n int) []string {
	out := make([]string, 4)
	for j := range out {
		out[j] = show.Seats[4*n+j].ID
	}
	return out
}
