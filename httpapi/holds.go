package httpapi

import (
	"context"
	"net/http"
	"time"

	"seatmanager/booking"
)

type holdInfoResponse struct {
	HoldToken      string    `json:"holdToken"`
	ShowID         string    `json:"showId"`
	SeatIDs        []string  `json:"seatIds"`
	ExpiresAt      time.Time `json:"expiresAt"`
	Extensions     int       `json:"extensions"`
	ExtensionsLeft int       `json:"extensionsLeft"`
}

func (s *Server) holdInfoView(h booking.Hold) any {
	return holdInfoResponse{
		HoldToken: h.Token, ShowID: h.ShowID, SeatIDs: h.SeatIDs, ExpiresAt: h.ExpiresAt.UTC(),
		Extensions: h.Extensions, ExtensionsLeft: max(s.svc.MaxExtensions()-h.Extensions, 0),
	}
}

// handleLookupHold answers a holder's question "what do I hold, until when?".
// A GET has no body, so the caller names itself with ?userId=.
func (s *Server) handleLookupHold(w http.ResponseWriter, r *http.Request) {
	user, err := s.caller(r, r.URL.Query().Get("userId"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h, err := s.svc.LookupHold(r.Context(), user, r.PathValue("holdToken"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.holdInfoView(h))
}

type extendRequest struct {
	UserID string `json:"userId"`
}

// handleExtendHold extends a hold by one TTL.
func (s *Server) handleExtendHold(w http.ResponseWriter, r *http.Request) {
	serveChange(s, w, r, http.StatusOK, s.holdInfoView, func(ctx context.Context, user string, _ extendRequest, idem *booking.Idempotent) (booking.Hold, error) {
		return s.svc.ExtendHold(ctx, booking.ExtendRequest{UserID: user, Token: r.PathValue("holdToken"), Idempotent: idem})
	})
}
