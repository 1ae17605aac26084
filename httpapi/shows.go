package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"seatmanager/auth"
	"seatmanager/booking"
)

// layoutRequest is the body of POST /api/shows: a show and its auditorium's
// rows, front to back.
type layoutRequest struct {
	MovieTitle string      `json:"movieTitle"`
	StartsAt   time.Time   `json:"startsAt"`
	Auditorium string      `json:"auditorium"`
	Rows       []rowLayout `json:"rows"`
}

type rowLayout struct {
	Label      string `json:"label"`
	Seats      int    `json:"seats"`
	Category   string `json:"category,omitempty"`
	AisleAfter []int  `json:"aisleAfter,omitempty"`
	Accessible []int  `json:"accessible,omitempty"`
}

// An operator's request names no user: its caller is its token's.
func (layoutRequest) claimedUser() string { return "" }

// ReadLayout reads a layout file, in the JSON of POST /api/shows, as
// strictly as the API reads its body: seatd shows create takes the same files.
func ReadLayout(data []byte) (booking.Layout, error) {
	var l layoutRequest
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return booking.Layout{}, booking.Invalidf("layout: %v", err)
	}
	if d.More() {
		return booking.Layout{}, booking.Invalidf("layout: data after the JSON object")
	}
	return l.layout(), nil
}

func (l layoutRequest) layout() booking.Layout {
	out := booking.Layout{MovieTitle: l.MovieTitle, StartsAt: l.StartsAt, Auditorium: l.Auditorium}
	for _, r := range l.Rows {
		out.Rows = append(out.Rows, booking.RowLayout(r))
	}
	return out
}

// handleCreateShow makes a show from a layout: operators only.
func (s *Server) handleCreateShow(w http.ResponseWriter, r *http.Request) {
	if err := admin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	serveChange(s, w, r, http.StatusCreated, showView, func(ctx context.Context, _ string, in layoutRequest, idem *booking.Idempotent) (booking.Show, error) {
		return s.svc.CreateShow(ctx, in.layout(), idem)
	})
}

func showView(sh booking.Show) any {
	return showResponse{sh.ID, sh.MovieTitle, sh.StartsAt.UTC(), sh.Auditorium, sh.SeatsTotal, sh.SeatsAvailable}
}

// admin refuses a caller without the admin role. With authentication off
// there is no role to trust: the operator routes need tokens.
func admin(r *http.Request) error {
	c, proven := claims(r)
	switch {
	case !proven:
		return auth.Forbiddenf("operator routes need a bearer token with the admin role, and SEATD_AUTH=on")
	case !c.Has(auth.RoleAdmin):
		return auth.Forbiddenf("this route is for operators: the bearer token has no %q role", auth.RoleAdmin)
	}
	return nil
}

type blockRequest struct {
	SeatIDs []string `json:"seatIds"`
}

func (blockRequest) claimedUser() string { return "" }

type blockResponse struct {
	ShowID  string    `json:"showId"`
	SeatIDs []string  `json:"seatIds"`
	Blocked bool      `json:"blocked"`
	At      time.Time `json:"at"`
}

func blockView(b booking.Blocking) any {
	return blockResponse{ShowID: b.ShowID, SeatIDs: b.SeatIDs, Blocked: b.Blocked, At: b.At.UTC()}
}

// handleBlock takes seats off sale (house seats, broken seats), or with
// unblock puts them back: operators only.
func (s *Server) handleBlock(unblock bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := admin(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		serveChange(s, w, r, http.StatusOK, blockView, func(ctx context.Context, _ string, in blockRequest, idem *booking.Idempotent) (booking.Blocking, error) {
			return s.svc.Block(ctx, r.PathValue("showId"), in.SeatIDs, !unblock, idem)
		})
	}
}
