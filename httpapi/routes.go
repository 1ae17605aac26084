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
	s.mux.HandleFunc("GET /api/holds/{holdToken}", s.handleLookupHold)
	s.change("POST /api/holds/{holdToken}/extend", s.handleExtendHold)

	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("GET /problems/{slug}", handleProblemDoc)
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics)
	}

	// The seat-map page. Its patterns are exact, so unknown paths stay API 404s.
	page := web.Handler()
	for _, p := range web.Patterns() {
		s.mux.Handle(p, page)
	}
}

// change registers a state-changing POST: exactly-once per Idempotency-Key,
// and counted in flight while it is answered. A path under /api/seats/ also
// matches the seat-map route's GET pattern, so it is remembered, to answer GET
// on it with 405 rather than as a show id.
func (s *Server) change(pattern string, h http.HandlerFunc) {
	wrapped := s.once.Wrap(h)
	if c := s.changes; c != nil {
		once := wrapped
		wrapped = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Enter()
			defer c.Leave()
			once.ServeHTTP(w, r)
		})
	}
	s.mux.Handle(pattern, wrapped)
	if name, ok := strings.CutPrefix(pattern, "POST /api/seats/"); ok {
		s.postOnly[name] = true
	}
}
