package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/live"
)

type showResponse struct {
	ID             string    `json:"id"`
	MovieTitle     string    `json:"movieTitle"`
	StartsAt       time.Time `json:"startsAt"`
	Auditorium     string    `json:"auditorium"`
	SeatsTotal     int       `json:"seatsTotal"`
	SeatsAvailable int       `json:"seatsAvailable"`
}

func (s *Server) handleShows(w http.ResponseWriter, r *http.Request) {
	shows, err := s.svc.Shows(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]any, len(shows))
	for i, sh := range shows {
		out[i] = showView(sh)
	}
	writeJSON(w, http.StatusOK, out)
}

type seatMapResponse struct {
	ShowID string      `json:"showId"`
	Seq    int64       `json:"seq"`
	Seats  []live.Seat `json:"seats"` // the live snapshot's seats too
}

func (s *Server) handleSeatMap(w http.ResponseWriter, r *http.Request) {
	showID := r.PathValue("showId")
	if s.postOnly[showID] {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, r, problemMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: POST")
		return
	}
	m, err := s.svc.SeatMap(r.Context(), showID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := seatMapResponse{ShowID: m.ShowID, Seq: m.Seq, Seats: make([]live.Seat, len(m.Seats))}
	for i, seat := range m.Seats {
		out.Seats[i] = live.SeatOf(seat)
	}
	writeJSON(w, http.StatusOK, out)
}

type holdRequest struct {
	SeatIDs []string `json:"seatIds"`
	UserID  string   `json:"userId"`
}

type holdResponse struct {
	HoldToken      string    `json:"holdToken"`
	ShowID         string    `json:"showId"`
	SeatIDs        []string  `json:"seatIds"`
	ExpiresAt      time.Time `json:"expiresAt"`
	TTLSeconds     float64   `json:"ttlSeconds"`
	ExtensionsLeft int       `json:"extensionsLeft"`
}

func (s *Server) handleHold(w http.ResponseWriter, r *http.Request) {
	serveChange(s, w, r, http.StatusOK, s.holdView, func(ctx context.Context, user string, req holdRequest, idem *booking.Idempotent) (booking.Hold, error) {
		return s.svc.Hold(ctx, booking.HoldRequest{UserID: user, SeatIDs: req.SeatIDs, Idempotent: idem})
	})
}

func (s *Server) holdView(h booking.Hold) any {
	return holdResponse{
		HoldToken: h.Token, ShowID: h.ShowID, SeatIDs: h.SeatIDs,
		ExpiresAt: h.ExpiresAt.UTC(), TTLSeconds: s.svc.HoldTTL().Seconds(), ExtensionsLeft: s.svc.MaxExtensions(),
	}
}

// seatsRequest is the body of book-bulk and release-bulk.
type seatsRequest struct {
	SeatIDs   []string `json:"seatIds"`
	UserID    string   `json:"userId"`
	HoldToken string   `json:"holdToken,omitempty"`
}

type bookResponse struct {
	BookingID string    `json:"bookingId"`
	ShowID    string    `json:"showId"`
	SeatIDs   []string  `json:"seatIds"`
	BookedAt  time.Time `json:"bookedAt"`
}

func (s *Server) handleBook(w http.ResponseWriter, r *http.Request) {
	serveChange(s, w, r, http.StatusOK, bookView, func(ctx context.Context, user string, req seatsRequest, idem *booking.Idempotent) (booking.Booking, error) {
		return s.svc.Book(ctx, booking.BookRequest{UserID: user, SeatIDs: req.SeatIDs, HoldToken: req.HoldToken, Idempotent: idem})
	})
}

func bookView(b booking.Booking) any {
	return bookResponse{BookingID: b.ID, ShowID: b.ShowID, SeatIDs: b.SeatIDs, BookedAt: b.BookedAt.UTC()}
}

type releaseResponse struct {
	ShowID     string    `json:"showId"`
	SeatIDs    []string  `json:"seatIds"`
	ReleasedAt time.Time `json:"releasedAt"`
}

func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) {
	serveChange(s, w, r, http.StatusOK, releaseView, func(ctx context.Context, user string, req seatsRequest, idem *booking.Idempotent) (booking.Release, error) {
		return s.svc.Release(ctx, booking.ReleaseRequest{UserID: user, SeatIDs: req.SeatIDs, HoldToken: req.HoldToken, Idempotent: idem})
	})
}

func releaseView(rel booking.Release) any {
	return releaseResponse{ShowID: rel.ShowID, SeatIDs: rel.SeatIDs, ReleasedAt: rel.ReleasedAt.UTC()}
}

// claimant is a request body that names its caller.
type claimant interface{ claimedUser() string }

func (r holdRequest) claimedUser() string   { return r.UserID }
func (r seatsRequest) claimedUser() string  { return r.UserID }
func (r extendRequest) claimedUser() string { return r.UserID }

// serveChange is every state-changing route: read the body, resolve the
// caller, make the change (which stores its answer, as view renders it, with
// itself) and answer with that view.
func serveChange[In claimant, Out any](s *Server, w http.ResponseWriter, r *http.Request, status int, view func(Out) any,
	change func(ctx context.Context, user string, in In, idem *booking.Idempotent) (Out, error)) {
	var in In
	if !s.read(w, r, &in) {
		return
	}
	user, err := s.caller(r, in.claimedUser())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := change(r.Context(), user, in, idempotent(r, status, view))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, status, view(out))
}

// idempotent asks a seat change to store, in its own transaction, the answer
// view gives of its result: the answer a retry of the request's key replays.
func idempotent[T any](r *http.Request, status int, view func(T) any) *booking.Idempotent {
	return idempotency.For(r, func(result any) (idempotency.Response, error) {
		t, ok := result.(T)
		if !ok {
			return idempotency.Response{}, fmt.Errorf("idempotent answer: got a %T, want a %T", result, t)
		}
		return jsonResponse(status, view(t))
	})
}

// read decodes the request body into v, or answers with the problem and reports false.
func (s *Server) read(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decode(w, r, s.maxBody, v); err != nil {
		writeProblem(w, r, err.problem, err.detail)
		return false
	}
	return true
}
