// Package httpapi serves the seat API over HTTP: the seed's routes, health checks,
// and RFC 9457 problem details for every error.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"runtime/debug"
	"time"

	"seatmanager/booking"
	"seatmanager/idempotency"
	"seatmanager/internal/inflight"
	"seatmanager/live"
)

// Config tunes a Server. Zero values take the defaults.
type Config struct {
	// Ready reports whether the server can do its work (its database answers);
	// /readyz fails while it returns an error. Default: always ready.
	Ready func(ctx context.Context) error
	// MaxBodyBytes caps request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// Logger receives failures and, at debug level, every request. Default slog.Default().
	Logger *slog.Logger
	// Receipts and Markers make every state-changing POST exactly-once per
	// Idempotency-Key (see package idempotency). Both are required.
	Receipts interface {
		idempotency.Store
		idempotency.BatchStore
	}
	Markers idempotency.Markers
	// SharedMarkers: Markers outlive seatd's process (Redis); see
	// idempotency.Config.SharedMarkers.
	SharedMarkers bool
	// IdempotencyTTL is how long answers are kept for retries. Default 24h.
	IdempotencyTTL time.Duration
	// RefusalTTL is how long the answers of refused requests (409, 410) are
	// kept. Default 10m.
	RefusalTTL time.Duration
	// RequestTimeout bounds each request: past it the client hears a 503
	// problem rather than waiting on a database that does not answer.
	// Default 5s.
	RequestTimeout time.Duration
	// Live, if set, serves the live seat maps.
	Live *live.Hub
	// InFlight, if set, counts the seat changes being answered (see
	// live.Config.Busy).
	InFlight *inflight.Counter
	// Metrics, if set, is served at /metrics.
	Metrics http.Handler
	// Auth, if set, proves callers by their bearer tokens: every seat change
	// and hold lookup needs one. Nil trusts the body's userId, as the seed's
	// API did (for deployments behind a gateway that authenticates).
	Auth Authenticator
	// Sessions, if set, opens guest sessions at POST /api/sessions.
	Sessions TokenIssuer
	// Limiter enforces Limits; nil enforces none.
	Limiter Limiter
	Limits  Limits
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (a balancer in front of seatd).
	TrustedProxies []netip.Prefix
	// MaxInFlight bounds the requests served at once (sockets, health checks
	// and metrics aside); past it, 503. Zero: no bound.
	MaxInFlight int
	// CORSOrigins are the origins ("https://tickets.example", or "*") whose
	// pages may call the API.
	CORSOrigins []string
	// ObserveRequest, if set, is told of every answered request: its route
	// pattern ("" if none matched), method, status and duration.
	ObserveRequest func(route, method string, status int, d time.Duration)
}

// Server is the HTTP API in front of a booking.Service.
type Server struct {
	svc     *booking.Service
	mux     *http.ServeMux
	ready   func(ctx context.Context) error
	maxBody int64
	timeout time.Duration
	log     *slog.Logger
	once    *idempotency.Middleware
	live    *live.Hub
	changes *inflight.Counter
	// postOnly are the paths under /api/seats/ that only take POST (see change).
	postOnly map[string]bool
	// keyed are the patterns of the changes, which run exactly-once per
	// Idempotency-Key (see change).
	keyed map[string]bool

	metrics http.Handler
	observe func(route, method string, status int, d time.Duration)

	auth        Authenticator
	sessions    TokenIssuer
	limiter     Limiter
	limits      Limits
	proxies     []netip.Prefix
	inFlight    gauge
	corsOrigins []string
}

// NewServer returns the API with every route registered.
func NewServer(svc *booking.Service, cfg Config) *Server {
	s := &Server{
		svc: svc, mux: http.NewServeMux(), ready: cfg.Ready, maxBody: cfg.MaxBodyBytes, timeout: cfg.RequestTimeout,
		log: cfg.Logger, metrics: cfg.Metrics, observe: cfg.ObserveRequest, postOnly: map[string]bool{}, keyed: map[string]bool{}, live: cfg.Live,
		changes: cfg.InFlight, auth: cfg.Auth, sessions: cfg.Sessions, limiter: cfg.Limiter, limits: cfg.Limits,
		proxies: cfg.TrustedProxies, inFlight: gauge{max: int64(cfg.MaxInFlight)}, corsOrigins: cfg.CORSOrigins,
	}
	if s.timeout <= 0 {
		s.timeout = 5 * time.Second
	}
	if s.observe == nil {
		s.observe = func(string, string, int, time.Duration) {}
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	if s.maxBody <= 0 {
		s.maxBody = 64 << 10
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.once = idempotency.New(idempotency.Config{
		Receipts: cfg.Receipts, Batch: cfg.Receipts, Markers: cfg.Markers, SharedMarkers: cfg.SharedMarkers, Scope: s.scope, Fail: s.writeError,
		MaxBodyBytes: s.maxBody, TTL: cfg.IdempotencyTTL, RefusalTTL: cfg.RefusalTTL, Logger: s.log,
		// A key's lease outlasts the request that holds it.
		LeaseTTL: max(10*time.Second, 2*s.timeout),
		Timeout:  func(r *http.Request) time.Duration { return s.timeoutOf(r.Pattern) },
	})
	s.routes()
	return s
}

// Close ends the work requests left behind them. Call it once the HTTP server
// has stopped serving.
func (s *Server) Close() { s.once.Close() }

// ServeHTTP routes a request. The mux's own answers for unknown paths and wrong
// methods are plain text; they are turned into problem details here so that every
// error of the API has one shape.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeProblem(rec, r, problemInternal, "")
			}
		}
		d := time.Since(start)
		s.observe(r.Pattern, r.Method, rec.status, d)
		if s.log.Enabled(r.Context(), slog.LevelDebug) { // spares every request boxing the arguments
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", d)
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if s.cors(rec, r) {
		return
	}
	h, pattern := s.mux.Handler(r)
	if !unbounded[pattern] {
		if !s.inFlight.enter() {
			s.writeError(rec, r, errOverloaded)
			return
		}
		defer s.inFlight.leave()
	}
	// A socket lasts as long as its viewer; a keyed change gets its deadline
	// from the idempotency middleware, on a context that outlives its client.
	if pattern != livePattern && !s.keyed[pattern] {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeoutOf(pattern))
		defer cancel()
		r = r.WithContext(ctx)
	}
	if pattern == "" {
		h.ServeHTTP(&muxErrorWriter{statusWriter: rec, r: r, postOnly: s.postOnly}, r)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// timeoutOf is how long a request on pattern may run.
func (s *Server) timeoutOf(pattern string) time.Duration {
	return max(s.timeout, slowRoutes[pattern])
}

// slowRoutes may take longer than the request timeout: an operator making a
// stadium of 100,000 seats waits for it once (on SQLite, 3 to 4 s on this
// machine). 10 s is the least lease of an Idempotency-Key (see NewServer),
// which bounds any keyed request.
var slowRoutes = map[string]time.Duration{"POST /api/shows": 10 * time.Second}

// statusWriter remembers the status written, for logs and panic recovery.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection beneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// muxErrorWriter replaces the mux's plain-text 404 and 405 with problem details,
// keeping the Allow header it computed. Anything else (redirects) passes through.
type muxErrorWriter struct {
	*statusWriter
	r        *http.Request
	postOnly map[string]bool
	replaced bool
}

func (w *muxErrorWriter) WriteHeader(status int) {
	switch status {
	case http.StatusNotFound:
		w.replaced = true
		writeProblem(w.statusWriter, w.r, problemNotFound, "no route for "+w.r.Method+" "+w.r.URL.Path)
	case http.StatusMethodNotAllowed:
		w.replaced = true
		if w.postOnly[path.Base(w.r.URL.Path)] {
			// The mux counts the seat-map route's GET as allowed here too.
			w.Header().Set("Allow", http.MethodPost)
		}
		writeProblem(w.statusWriter, w.r, problemMethodNotAllowed,
			w.r.Method+" is not allowed on "+w.r.URL.Path+"; allowed: "+w.Header().Get("Allow"))
	default:
		w.statusWriter.WriteHeader(status)
	}
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.statusWriter.Write(b)
}
