package httpapi

import (
	"net/http"
	"time"

	"seatmanager/auth"
)

// TokenIssuer signs tokens for a user (auth.Issuer).
type TokenIssuer interface {
	Issue(userID string, roles ...string) (string, time.Time, error)
}

type sessionResponse struct {
	Token     string    `json:"token"`
	UserID    string    `json:"userId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// handleSession opens a guest session: a new user id and a token that proves
// it. It needs no body and no Idempotency-Key: a guest nobody uses costs
// nothing, and a retry just makes another. Each client address may open
// Limits.Sessions of them.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	if err := s.limit(r, "sessions", s.clientAddr(r), s.limits.Sessions); err != nil {
		s.writeError(w, r, err)
		return
	}
	user := auth.NewGuestID()
	token, exp, err := s.sessions.Issue(user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, sessionResponse{Token: token, UserID: user, ExpiresAt: exp.UTC()})
}
