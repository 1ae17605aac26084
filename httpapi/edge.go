package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
)

// The edge of the API: what every request meets before its route. Who the
// client is (its address, through trusted proxies), which other origins'
// pages may call the API (CORS), the security headers of every answer, and a
// bound on the requests served at once.

// clientAddr is the address a request comes from, as a rate-limit key: the
// peer, or, when the peer is a trusted proxy, the last address of
// X-Forwarded-For that is not one. IPv6 clients are keyed by their /64,
// which one host can fill with addresses.
func (s *Server) clientAddr(r *http.Request) string {
	addr := peerAddr(r.RemoteAddr)
	if s.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for _, hop := range slices.Backward(hops) {
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				break // a forged or broken list: the last proxy is the client
			}
			addr = a.Unmap()
			if !s.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// corsHeaders are the request headers a page of another origin may send.
const corsHeaders = "Authorization, Content-Type, Idempotency-Key"

// cors answers a preflight request and marks the answers that pages of an
// allowed origin may read; it reports whether the request was answered. An
// origin not allowed gets no CORS header, so its page cannot read the answer.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.corsOrigins) == 0 {
		return false
	}
	// Answers differ by origin, so a shared cache must keep them apart.
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if !slices.Contains(s.corsOrigins, origin) && !slices.Contains(s.corsOrigins, "*") {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	h.Set("Access-Control-Expose-Headers", "Retry-After, Idempotent-Replayed, WWW-Authenticate")
	return false
}

// pageSecurity are the headers of the web page: its scripts, styles and
// connections only from seatd itself, and no framing by other sites
// (clickjacking a "Book" button).
var pageSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Frame-Options": "DENY",
	"Referrer-Policy": "no-referrer",
}

// securePage adds pageSecurity to the page's answers.
func securePage(page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range pageSecurity {
			w.Header().Set(k, v)
		}
		page.ServeHTTP(w, r)
	})
}

// unbounded are the routes the bound on requests at once does not count:
// probes must answer while the API is saturated, and sockets have a bound of
// their own.
var unbounded = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, livePattern: true}

// gauge bounds the requests served at once.
type gauge struct {
	max int64
	n   atomic.Int64
}

// enter reports whether one more request may be served; if so, leave must
// follow.
func (g *gauge) enter() bool {
	if g.max <= 0 {
		return true
	}
	if g.n.Add(1) > g.max {
		g.n.Add(-1)
		return false
	}
	return true
}

func (g *gauge) leave() {
	if g.max > 0 {
		g.n.Add(-1)
	}
}
