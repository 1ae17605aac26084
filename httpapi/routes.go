package httpapi

import (
	"net/http"
	"strings"

	"seatmanager/web"
)

// routes registers the whole API surface in one place.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/seats/shows", s.handleShows)
	s.mux.HandleFunc("GET /api/seats/{showId}", s.handleSeatMap)
	s.mux.HandleFunc("GET /api/seats/{showId}/events", s.handleEvents)
	if s.live != nil {
		s.mux.HandleFunc(livePattern, s.handleLive)
	}
	s.change("POST /api/seats/hold-bulk", s.handleHold)
	s.change("POST /api/seats/book-bulk", s.handleBook)
	s.change("POST /api/seats/release-bulk", s.handleRelease)
	s.mux.Handle("GET /api/holds/{holdToken}", s.authenticated(s.handleLookupHold))
	s.mux.Handle("GET /api/bookings", s.authenticated(s.handleBookings))
	s.mux.Handle("GET /api/bookings/{bookingId}", s.authenticated(s.handleBooking))
	s.change("POST /api/bookings/{bookingId}/cancel", s.handleCancel)
	s.change("POST /api/shows", s.handleCreateShow)
	s.change("POST /api/shows/{showId}/seats/block", s.handleBlock(false))
	s.change("POST /api/shows/{showId}/seats/unblock", s.handleBlock(true))
	if s.sessions != nil {
		s.mux.HandleFunc("POST /api/sessions", s.handleSession)
	}
	s.change("POST /api/holds/{holdToken}/extend", s.handleExtendHold)

	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("GET /problems/{slug}", handleProblemDoc)
	s.mux.HandleFunc("GET /api/openapi.json", handleOpenAPI)
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics)
	}

	// The seat-map page. Its patterns are exact, so unknown paths stay API 404s.
	page := securePage(web.Handler())
	for _, p := range web.Patterns() {
		s.mux.Handle(p, page)
	}
}

// authenticated proves the caller before h runs (see authenticate).
func (s *Server) authenticated(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	})
}

// change registers a state-changing POST: rate limited per client address,
// then its caller proven and rate limited, then exactly-once per
// Idempotency-Key; counted in flight while it is answered. A path under
// /api/seats/ also matches the seat-map route's GET pattern, so it is
// remembered, to answer GET on it with 405 rather than as a show id.
func (s *Server) change(pattern string, h http.HandlerFunc) {
	once := s.once.Wrap(h)
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := s.changes; c != nil {
			c.Enter()
			defer c.Leave()
		}
		if err := s.limit(r, "address", s.clientAddr(r), s.limits.PerAddress); err != nil {
			s.writeError(w, r, err)
			return
		}
		r, err := s.authenticate(r)
		if err == nil {
			err = s.limitUser(r)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		once.ServeHTTP(w, r)
	})
	s.mux.Handle(pattern, wrapped)
	s.keyed[pattern] = true
	if name, ok := strings.CutPrefix(pattern, "POST /api/seats/"); ok {
		s.postOnly[name] = true
	}
}
