package httpapi_test

import (
	"net/http"
	"testing"

	"seatmanager/booking"
)

// TestBookings: a buyer sees its bookings, one by one and as a list; an
// operator sees anyone's; anyone else hears that the booking does not exist.
func TestBookings(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{})
			h := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice"}).json(t)
			b := e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice", "holdToken": h["holdToken"]}).json(t)
			id := b["bookingId"].(string)

			got := e.do(t, http.MethodGet, "/api/bookings/"+id+"?userId=alice", nil)
			wantStatus(t, got, http.StatusOK)
			sale := got.json(t)
			seats := sale["seats"].([]any)
			if sale["status"] != "booked" || sale["showId"] != e.show.ID || sale["movieTitle"] != e.show.MovieTitle || len(seats) != 2 ||
				seats[0].(map[string]any)["label"] != "A1" {
				t.Errorf("alice's booking: got %v, want her two seats A1, A2 of the show, booked", sale)
			}
			wantProblem(t, e.do(t, http.MethodGet, "/api/bookings/"+id+"?userId=bob", nil), http.StatusNotFound, "not-found")
			wantProblem(t, e.do(t, http.MethodGet, "/api/bookings/"+id, nil), http.StatusUnauthorized, "unauthenticated")
			wantProblem(t, e.do(t, http.MethodGet, "/api/bookings/nope?userId=alice", nil), http.StatusBadRequest, "invalid-request")
			wantStatus(t, e.do(t, http.MethodGet, "/api/bookings/"+id, nil, "Authorization", adminToken(t)), http.StatusOK)

			list := e.do(t, http.MethodGet, "/api/bookings?userId=alice&limit=1", nil).json(t)
			if bs := list["bookings"].([]any); len(bs) != 1 || bs[0].(map[string]any)["bookingId"] != id || list["next"] != id {
				t.Errorf("alice's list: got %v, want her booking and a next page", list)
			}
			if more := e.do(t, http.MethodGet, "/api/bookings?userId=alice&before="+id, nil).json(t); len(more["bookings"].([]any)) != 0 || more["next"] != nil {
				t.Errorf("alice's next page: got %v, want it empty and last", more)
			}
			if bobs := e.do(t, http.MethodGet, "/api/bookings?userId=bob", nil).json(t); len(bobs["bookings"].([]any)) != 0 {
				t.Errorf("bob's list: got %v, want none of alice's", bobs)
			}
			wantProblem(t, e.do(t, http.MethodGet, "/api/bookings?userId=alice&limit=101", nil), http.StatusBadRequest, "invalid-request")
		})
	}
}

// TestCancelBooking: the buyer cancels (the seats are available again and the
// booking reads cancelled); a retry of the key replays the answer, another
// cancellation is a 409, and nobody else may cancel it.
func TestCancelBooking(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnvOn(t, engine, booking.Config{})
			h := e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice"}).json(t)
			id := e.post(t, "/api/seats/book-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice", "holdToken": h["holdToken"]}).json(t)["bookingId"].(string)
			path := "/api/bookings/" + id + "/cancel"

			wantProblem(t, e.postKey(t, path, "c0", map[string]any{"userId": "bob"}), http.StatusNotFound, "not-found")
			first := e.postKey(t, path, "c1", map[string]any{"userId": "alice"})
			wantStatus(t, first, http.StatusOK)
			if got := first.json(t); got["status"] != "cancelled" || got["cancelledAt"] == nil {
				t.Errorf("got %v, want the booking cancelled", got)
			}
			wantSeats(t, e, "available", e.seats[:2]...)
			again := e.postKey(t, path, "c1", map[string]any{"userId": "alice"})
			if again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) {
				t.Errorf("the retry: got %d %s, want the first answer replayed", again.status, again.body)
			}
			wantProblem(t, e.postKey(t, path, "c2", map[string]any{"userId": "alice"}), http.StatusConflict, "limit-reached")
			if got := e.do(t, http.MethodGet, "/api/bookings/"+id+"?userId=alice", nil).json(t); got["status"] != "cancelled" {
				t.Errorf("the booking reads %v, want cancelled", got)
			}
			// The seats sell again.
			wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "carol"}), http.StatusOK)
		})
	}
}
