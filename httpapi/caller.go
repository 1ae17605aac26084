package httpapi

import (
	"encoding/json"
	"net/http"

	"seatmanager/booking"
)

// caller resolves who is making a request. For now the client names itself with
// the body's userId, as the seed's API does; bearer-token authentication will
// replace this one function, and no handler will change.
func (s *Server) caller(_ *http.Request, claimedUserID string) (string, error) {
	if err := booking.CheckUserID(claimedUserID); err != nil {
		return "", err
	}
	return claimedUserID, nil
}

// scope is who a keyed request comes from, read from its body before the
// handler runs: keys are kept per caller.
func (s *Server) scope(r *http.Request, body []byte) (string, error) {
	var who struct {
		UserID string `json:"userId"`
	}
	if err := json.Unmarshal(body, &who); err != nil {
		return "", err
	}
	return s.caller(r, who.UserID)
}
