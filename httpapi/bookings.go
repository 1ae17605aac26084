package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"seatmanager/booking"
)

type saleSeat struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

type saleResponse struct {
	BookingID  string     `json:"bookingId"`
	ShowID     string     `json:"showId"`
	MovieTitle string     `json:"movieTitle"`
	StartsAt   time.Time  `json:"startsAt"`
	Auditorium string     `json:"auditorium"`
	Seats      []saleSeat `json:"seats"`
	BookedAt   time.Time  `json:"bookedAt"`
	Status     string     `json:"status"` // booked or cancelled
	// CancelledAt is set once the booking was cancelled.
	CancelledAt *time.Time `json:"cancelledAt,omitempty"`
}

func saleView(s booking.Sale) saleResponse {
	out := saleResponse{BookingID: s.ID, ShowID: s.ShowID, MovieTitle: s.Show.MovieTitle, StartsAt: s.Show.StartsAt.UTC(),
		Auditorium: s.Show.Auditorium, BookedAt: s.BookedAt.UTC(), Status: "booked", Seats: make([]saleSeat, len(s.SeatIDs))}
	for i, id := range s.SeatIDs {
		out.Seats[i] = saleSeat{ID: id, Label: s.Labels[i]}
	}
	if !s.CancelledAt.IsZero() {
		at := s.CancelledAt.UTC()
		out.Status, out.CancelledAt = "cancelled", &at
	}
	return out
}

type cancelRequest struct {
	UserID string `json:"userId"`
}

func (r cancelRequest) claimedUser() string { return r.UserID }

// handleCancel cancels a booking: its buyer before the show starts, or an
// operator. Its seats go back on sale in the same transaction.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	serveChange(s, w, r, http.StatusOK, func(sale booking.Sale) any { return saleView(sale) },
		func(ctx context.Context, user string, _ cancelRequest, idem *booking.Idempotent) (booking.Sale, error) {
			return s.svc.Cancel(ctx, booking.CancelParams{BookingID: r.PathValue("bookingId"), UserID: user, Operator: admin(r) == nil, Idempotent: idem})
		})
}

// handleBooking shows a booking to its buyer or an operator; to anyone else
// it does not exist.
func (s *Server) handleBooking(w http.ResponseWriter, r *http.Request) {
	user, err := s.caller(r, r.URL.Query().Get("userId"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sale, err := s.svc.Sale(r.Context(), r.PathValue("bookingId"))
	if err == nil && sale.UserID != user && admin(r) != nil {
		err = booking.NotFoundf("no booking %s", r.PathValue("bookingId"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, saleView(sale))
}

type salesResponse struct {
	Bookings []saleResponse `json:"bookings"`
	// Next, if set, is the before of the next page.
	Next string `json:"next,omitempty"`
}

// handleBookings lists the caller's bookings, newest first, a page at a
// time: ?limit= (20, at most 100) and ?before= the next of the last page.
func (s *Server) handleBookings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user, err := s.caller(r, q.Get("userId"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := 20
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			s.writeError(w, r, booking.Invalidf("limit %q is not a number", clipQuery(v)))
			return
		}
	}
	sales, err := s.svc.Sales(r.Context(), user, q.Get("before"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := salesResponse{Bookings: make([]saleResponse, len(sales))}
	for i, sale := range sales {
		out.Bookings[i] = saleView(sale)
	}
	if len(sales) == limit {
		out.Next = sales[len(sales)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
