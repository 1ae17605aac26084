package httpapi

import (
	"net/http"

	"seatmanager/web"
)

// routes registers the whole API surface in one place.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/seats/shows", s.handleShows)
	s.mux.HandleFunc("GET /api/seats/{showId}", s.handleSeatMap)
	// Every state-changing POST is exactly-once per Idempotency-Key.
	s.mux.Handle("POST /api/seats/hold-bulk", s.once.Wrap(http.HandlerFunc(s.handleHold)))
	s.mux.Handle("POST /api/seats/book-bulk", s.once.Wrap(http.HandlerFunc(s.handleBook)))
	s.mux.Handle("POST /api/seats/release-bulk", s.once.Wrap(http.HandlerFunc(s.handleRelease)))
	s.mux.HandleFunc("GET /api/holds/{holdToken}", s.handleLookupHold)
	s.mux.Handle("POST /api/holds/{holdToken}/extend", s.once.Wrap(http.HandlerFunc(s.handleExtendHold)))

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

// postOnly are the paths under /api/seats/ that only take POST. GET on them would
// otherwise match the seat-map route and read as an invalid show id.
var postOnly = map[string]bool{"hold-bulk": true, "book-bulk": true, "release-bulk": true}
