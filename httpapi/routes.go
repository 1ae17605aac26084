package httpapi

// routes registers the whole API surface in one place.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/seats/shows", s.handleShows)
	s.mux.HandleFunc("GET /api/seats/{showId}", s.handleSeatMap)
	s.mux.HandleFunc("POST /api/seats/hold-bulk", s.handleHold)
	s.mux.HandleFunc("POST /api/seats/book-bulk", s.handleBook)
	s.mux.HandleFunc("POST /api/seats/release-bulk", s.handleRelease)

	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("GET /problems/{slug}", handleProblemDoc)
}

// postOnly are the paths under /api/seats/ that only take POST. GET on them would
// otherwise match the seat-map route and read as an invalid show id.
var postOnly = map[string]bool{"hold-bulk": true, "book-bulk": true, "release-bulk": true}
