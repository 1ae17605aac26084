package main

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
)

// TestCancelRacesBuyers: on both stores, a buyer's two cancellations and a
// second buyer's hold and book of the same seats, at once, round after
// round: one cancellation wins, and by SQL no seat is ever in two live
// bookings, the seats table agrees with the bookings, and every cancelled
// booking left its rows in cancelled_bookings.
func TestCancelRacesBuyers(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres+redis"} {
		t.Run(backend, func(t *testing.T) {
			env := backendEnv(t, backend)
			s := startSeatd(t, env)
			c := newClient(t, s.url)
			db := openDB(t, env["SEATD_DATABASE_URL"])
			_, m := c.firstShow(t)
			seats := seatIDs(m)[:2]
			cancelled := 0
			for round := range 10 {
				alice := fmt.Sprintf("alice-%d", round)
				h := c.hold(t, alice, seats...)
				var b struct{ BookingID string }
				c.mustCall(t, "POST", "/api/seats/book-bulk", map[string]any{"seatIds": seats, "userId": alice, "holdToken": h.HoldToken}, 200, &b)
				var wg sync.WaitGroup
				var cancels [2]int
				var bobBooked bool
				for i := range 2 {
					wg.Go(func() {
						cancels[i], _ = c.call("POST", "/api/bookings/"+b.BookingID+"/cancel", map[string]any{"userId": alice}, nil)
					})
				}
				wg.Go(func() {
					bob := fmt.Sprintf("bob-%d", round)
					var bh holdJSON
					if st, _ := c.call("POST", "/api/seats/hold-bulk", map[string]any{"seatIds": seats, "userId": bob}, &bh); st == 200 {
						st, _ = c.call("POST", "/api/seats/book-bulk", map[string]any{"seatIds": seats, "userId": bob, "holdToken": bh.HoldToken}, nil)
						bobBooked = st == 200
					}
				})
				wg.Wait()
				if (cancels[0] == 200) == (cancels[1] == 200) {
					t.Fatalf("round %d: the two cancellations answered %d and %d, want one 200", round, cancels[0], cancels[1])
				}
				cancelled++
				checkLiveSales(t, db, seats)
				if bobBooked { // bob's seats are taken: he gives them back for the next round
					bob := fmt.Sprintf("bob-%d", round)
					var id string
					// The user id is the test's own: inline, so one query serves both stores.
					if err := db.QueryRow("SELECT DISTINCT CAST(booking_id AS TEXT) FROM bookings WHERE user_id = '" + bob + "'").Scan(&id); err != nil {
						t.Fatal(err)
					}
					c.mustCall(t, "POST", "/api/bookings/"+id+"/cancel", map[string]any{"userId": bob}, 200, nil)
					cancelled++
				}
			}
			var n int
			if err := db.QueryRow("SELECT count(DISTINCT booking_id) FROM cancelled_bookings").Scan(&n); err != nil || n != cancelled {
				t.Errorf("cancelled_bookings holds %d bookings (%v), want the %d cancelled", n, err, cancelled)
			}
		})
	}
}

// checkLiveSales asserts, by SQL, that each seat is in at most one live
// booking and is booked in the seats table exactly when it is.
func checkLiveSales(t *testing.T, db *sql.DB, seats []string) {
	t.Helper()
	for _, id := range seats {
		var live, booked int
		q := fmt.Sprintf("SELECT (SELECT count(*) FROM bookings WHERE seat_id = '%s'), (SELECT count(*) FROM seats WHERE id = '%s' AND status = 'booked')", id, id)
		if err := db.QueryRow(q).Scan(&live, &booked); err != nil {
			t.Fatal(err)
		}
		if live > 1 || live != booked {
			t.Fatalf("seat %s: %d live bookings and booked=%d in the seats table, want at most one, and agreeing", id, live, booked)
		}
	}
}
