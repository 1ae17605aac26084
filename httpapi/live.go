package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"seatmanager/booking"
	"seatmanager/live"
)

// livePattern is the route of the live seat map: a WebSocket, which the
// request timeout does not bound.
const livePattern = "GET /api/seats/{showId}/live"

// handleLive streams a show's seat changes over a WebSocket (package live).
// Watching needs no caller: seat status is public.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	showID, ok := booking.ParseID(r.PathValue("showId"))
	if !ok {
		s.writeError(w, r, booking.Invalidf("show id %q is not a UUID", r.PathValue("showId")))
		return
	}
	var since *int64
	if v := r.URL.Query().Get("sinceSeq"); v != "" || r.URL.Query().Has("sinceSeq") {
		n, err := parseSeq(v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		since = &n
	}
	// A socket lasts as long as its viewer: net/http clears the server's
	// read and write deadlines, meant for requests, when the socket takes
	// the connection over (TestLiveSocket checks); the hub closes viewers
	// that stop reading.
	if err := s.live.Serve(w, r, showID, since); err != nil {
		if errors.Is(err, live.ErrNotWebSocket) {
			w.Header().Set("Upgrade", "websocket") // RFC 9110: a 426 names the protocol
		}
		s.writeError(w, r, err)
	}
}

type eventsResponse struct {
	ShowID string       `json:"showId"`
	Seq    int64        `json:"seq"`
	Events []live.Event `json:"events"`
}

// handleEvents pages through a show's events, for clients without a socket.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseSeq(q.Get("sinceSeq"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := 500
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			s.writeError(w, r, booking.Invalidf("limit %q is not a number", clipQuery(v)))
			return
		}
	}
	page, err := s.svc.Events(r.Context(), r.PathValue("showId"), since, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := eventsResponse{ShowID: page.ShowID, Seq: page.Seq, Events: make([]live.Event, len(page.Events))}
	for i, e := range page.Events {
		out.Events[i] = live.EventOf(e)
	}
	writeJSON(w, http.StatusOK, out)
}

// parseSeq reads a sinceSeq: a whole number, 0 if empty.
func parseSeq(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, booking.Invalidf("sinceSeq %q is not a whole number of 0 or more", clipQuery(v))
	}
	return n, nil
}

func clipQuery(v string) string {
	if len(v) > 32 {
		return v[:32] + "…"
	}
	return v
}
