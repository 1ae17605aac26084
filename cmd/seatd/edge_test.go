package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"seatmanager/booking"
)

// slowHold is a hold request whose body is still on its way: seatd's handler
// is running, waiting for the rest of it.
type slowHold struct {
	conn net.Conn
	r    *bufio.Reader
	rest string
}

// startSlowHold sends a hold's headers and, once seatd asks for the body
// (Expect: 100-continue; its handler is then running and counted in flight),
// half of the body. It returns the status seatd answered the headers with:
// 100 while the request stays in flight, or a final status.
func startSlowHold(t *testing.T, base, user, seat string) (*slowHold, int) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := fmt.Sprintf(`{"seatIds":[%q],"userId":%q}`, seat, user)
	fmt.Fprintf(conn, "POST /api/seats/hold-bulk HTTP/1.1\r\nHost: seatd\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		tokenFor(user), booking.NewID(), len(body))
	h := &slowHold{conn: conn, r: bufio.NewReader(conn), rest: body[len(body)/2:]}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		t.Fatalf("%s's slow hold: no answer to its headers within 10s: %v", user, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusContinue {
		conn.Close()
		return h, resp.StatusCode
	}
	if _, err := io.WriteString(conn, body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	return h, resp.StatusCode
}

// finish sends the rest of the body and returns the status of the answer.
func (h *slowHold) finish(t *testing.T) int {
	t.Helper()
	if _, err := io.WriteString(h.conn, h.rest); err != nil {
		t.Fatal(err)
	}
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		t.Fatalf("no answer within 10s of the body's end: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// occupySlot starts a slow hold that stays in flight, retrying for a moment
// while seatd answers 503: a request that just answered may not yet have
// left the count.
func occupySlot(t *testing.T, base, user, seat string) *slowHold {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, status := startSlowHold(t, base, user, seat)
		if status == http.StatusContinue {
			return h
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("%s's slow hold: got %d, want 100 Continue (its handler reading the body)", user, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaxRequestsOverloaded: with SEATD_MAX_REQUESTS=2 and two requests in
// flight, a third is answered 503 overloaded with Retry-After while the health
// check still answers; once the two are gone, both places are free again.
func TestMaxRequestsOverloaded(t *testing.T) {
	s := startSeatd(t, map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"),
		"SEATD_MAX_REQUESTS": "2",
		// The slow bodies are bounded by ReadTimeout (30s), not by this.
		"SEATD_REQUEST_TIMEOUT": "30s",
	})
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	first := occupySlot(t, s.url, "slow-1", m.Seats[0].ID)
	second := occupySlot(t, s.url, "slow-2", m.Seats[1].ID)

	resp, err := c.http.Get(s.url + "/api/seats/shows")
	if err != nil {
		t.Fatal(err)
	}
	var problem struct{ Type string }
	decodeErr := json.NewDecoder(resp.Body).Decode(&problem)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third request: got %d, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("third request: got Content-Type %q, want application/problem+json", got)
	}
	if decodeErr != nil || problem.Type != "/problems/overloaded" {
		t.Errorf("third request: got problem type %q (%v), want /problems/overloaded", problem.Type, decodeErr)
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("third request: got Retry-After %q, want a number of seconds ≥ 1", resp.Header.Get("Retry-After"))
	}
	c.mustCall(t, "GET", "/healthz", nil, 200, nil)

	if got := first.finish(t); got != http.StatusOK {
		t.Errorf("slow hold, once its body arrived: got %d, want 200", got)
	}
	second.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, err := c.call("GET", "/api/seats/shows", nil, nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the slow requests ended: got (%d, %v) for 5s, want 200", status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Both places are back, the one left by a client that hung up mid-body
	// too (occupySlot waits a moment for its handler to give up).
	a := occupySlot(t, s.url, "slow-3", m.Seats[2].ID)
	b := occupySlot(t, s.url, "slow-4", m.Seats[3].ID)
	a.conn.Close()
	b.conn.Close()
}

// corsAnswer sends a request with an Origin (a preflight if method is
// OPTIONS) and returns its status and headers.
func corsAnswer(t *testing.T, method, url, origin string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.CloseIdleConnections()
	return resp.StatusCode, resp.Header
}

// headerTokens splits a header's comma-separated values, lowercased.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		out = append(out, headerTokensSep(v, ",")...)
	}
	return out
}

// headerTokensSep splits v at sep, trimmed and lowercased.
func headerTokensSep(v, sep string) []string {
	var out []string
	for _, tok := range strings.Split(v, sep) {
		if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" {
			out = append(out, tok)
		}
	}
	return out
}

// corsHeaderNames returns the names of h's Access-Control-* headers.
func corsHeaderNames(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestCORS: the origins of SEATD_CORS_ORIGINS may call the API from their
// pages, and only those; without the setting there is no CORS at all.
func TestCORS(t *testing.T) {
	const allowed, evil = "https://tickets.example", "https://evil.example"
	s := startSeatd(t, map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"), "SEATD_CORS_ORIGINS": allowed,
	})
	hold, shows := s.url+"/api/seats/hold-bulk", s.url+"/api/seats/shows"

	t.Run("preflight from an allowed origin", func(t *testing.T) {
		status, h := corsAnswer(t, http.MethodOptions, hold, allowed)
		if status != http.StatusNoContent {
			t.Errorf("got %d, want 204", status)
		}
		if got := h.Get("Access-Control-Allow-Origin"); got != allowed {
			t.Errorf("got Access-Control-Allow-Origin %q, want %q", got, allowed)
		}
		if got := headerTokens(h, "Access-Control-Allow-Methods"); !slices.Contains(got, "post") {
			t.Errorf("got Access-Control-Allow-Methods %q, want POST among them", got)
		}
		got := headerTokens(h, "Access-Control-Allow-Headers")
		for _, want := range []string{"authorization", "idempotency-key", "content-type"} {
			if !slices.Contains(got, want) {
				t.Errorf("got Access-Control-Allow-Headers %q, want %s among them", got, want)
			}
		}
		if !slices.Contains(headerTokens(h, "Vary"), "origin") {
			t.Errorf("got Vary %q, want Origin among them", h.Values("Vary"))
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		_, h := corsAnswer(t, http.MethodOptions, hold, evil)
		if got := corsHeaderNames(h); len(got) != 0 {
			t.Errorf("got CORS headers %q, want none", got)
		}
	})
	t.Run("request from an allowed origin", func(t *testing.T) {
		status, h := corsAnswer(t, http.MethodGet, shows, allowed)
		if status != http.StatusOK {
			t.Errorf("got %d, want 200", status)
		}
		if got := h.Get("Access-Control-Allow-Origin"); got != allowed {
			t.Errorf("got Access-Control-Allow-Origin %q, want %q", got, allowed)
		}
		if !slices.Contains(headerTokens(h, "Vary"), "origin") {
			t.Errorf("got Vary %q, want Origin among them", h.Values("Vary"))
		}
	})
	t.Run("request from another origin", func(t *testing.T) {
		status, h := corsAnswer(t, http.MethodGet, shows, evil)
		if status != http.StatusOK {
			t.Errorf("got %d, want 200 (CORS only keeps the page from reading it)", status)
		}
		if got := corsHeaderNames(h); len(got) != 0 {
			t.Errorf("got CORS headers %q, want none", got)
		}
	})
	t.Run("without SEATD_CORS_ORIGINS", func(t *testing.T) {
		plain := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db")})
		for _, method := range []string{http.MethodOptions, http.MethodGet} {
			_, h := corsAnswer(t, method, plain.url+"/api/seats/shows", allowed)
			if got := corsHeaderNames(h); len(got) != 0 {
				t.Errorf("%s from %s: got CORS headers %q, want none", method, allowed, got)
			}
		}
	})
}

// TestSecurityHeaders: the page may not be framed and loads only seatd's own
// files; no answer may be sniffed into another type.
func TestSecurityHeaders(t *testing.T) {
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db")})
	c := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	for _, tc := range []struct {
		name, path  string
		wantStatus  int
		wantType    string
		wantPageSec bool
	}{
		{"page", "/", 200, "text/html", true},
		{"API answer", "/api/seats/shows", 200, "application/json", false},
		{"problem answer", "/api/nothing", 404, "application/problem+json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Get(s.url + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			h := resp.Header
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if got := h.Get("Content-Type"); !strings.HasPrefix(got, tc.wantType) {
				t.Errorf("got Content-Type %q, want %s", got, tc.wantType)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("got X-Content-Type-Options %q, want nosniff", got)
			}
			if !tc.wantPageSec {
				return
			}
			csp := h.Get("Content-Security-Policy")
			if !slices.Contains(headerTokensSep(csp, ";"), "frame-ancestors 'none'") {
				t.Errorf("got Content-Security-Policy %q, want frame-ancestors 'none' in it", csp)
			}
			if got := h.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("got X-Frame-Options %q, want DENY", got)
			}
		})
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// getStatus returns the status and body of a GET, awaiting for up to 10s
// an address that is not listening yet.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			return resp.StatusCode, string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no answer within 10s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsOnOwnAddress: with SEATD_METRICS_ADDR, /metrics is served there
// and not on the API's address; SEATD_PPROF_ADDR may share that address.
func TestMetricsOnOwnAddress(t *testing.T) {
	seatdMetric := regexp.MustCompile(`(?m)^seatd_[a-z_]+`)
	for _, tc := range []struct {
		name      string
		withPprof bool
	}{
		{"metrics alone", false},
		{"metrics and pprof on one address", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := freeAddr(t)
			env := map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"), "SEATD_METRICS_ADDR": ops}
			if tc.withPprof {
				env["SEATD_PPROF_ADDR"] = ops
			}
			s := startSeatd(t, env)
			status, body := getStatus(t, "http://"+ops+"/metrics")
			if status != http.StatusOK || !seatdMetric.MatchString(body) {
				t.Errorf("GET %s/metrics: got %d with %d bytes (seatd_ metric: %v), want 200 with a seatd_ metric",
					ops, status, len(body), seatdMetric.MatchString(body))
			}
			if status, _ := getStatus(t, s.url+"/metrics"); status != http.StatusNotFound {
				t.Errorf("GET the API's /metrics: got %d, want 404", status)
			}
			wantPprof := http.StatusNotFound // the profiler is opt-in
			if tc.withPprof {
				wantPprof = http.StatusOK
			}
			if status, _ := getStatus(t, "http://"+ops+"/debug/pprof/"); status != wantPprof {
				t.Errorf("GET %s/debug/pprof/: got %d, want %d", ops, status, wantPprof)
			}
		})
	}
}
