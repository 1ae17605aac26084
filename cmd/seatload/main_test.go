package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"seatmanager/auth"
	"seatmanager/booking"
	"seatmanager/internal/testenv"
)

func TestMain(m *testing.M) {
	// calibrate starts this binary again as its hello-world server: in a test
	// binary, that is this test binary.
	if len(os.Args) > 1 && (os.Args[1] == helloServerCommand || os.Args[1] == liveHubCommand) {
		main()
		return
	}
	testenv.Main(m)
}

// noEnv is the environment of the tests' runs: a SEATLOAD_AUTH_SECRET of the
// caller's must not change them.
func noEnv(string) string { return "" }

// fakeSecret is the HS256 secret the fake seatd verifies signed tokens with.
const fakeSecret = "seatload-tests-fake-secret-of-32-bytes"

func TestRunArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // a substring of the error
	}{
		{"no command", nil, flag.ErrHelp.Error()},
		{"unknown command", []string{"stampede"}, `unknown command "stampede"`},
		{"bad flag", []string{"storm", "-vus", "many"}, "invalid value"},
		{"bad value", []string{"steady", "-book-ratio", "2"}, "-book-ratio must be between 0 and 1"},
		{"stray argument", []string{"browse", "15s"}, `unexpected argument "15s"`},
		{"short secret", []string{"live", "-auth-secret", "short"}, "-auth-secret must be at least 32 bytes"},
		{"unreachable seatd", []string{"storm", "-url", "http://127.0.0.1:1"}, "storm: GET /api/seats/shows: no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, noEnv, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// fakeSeatd is a seat API that breaks its promises in one chosen way, to show
// that storm notices. Like seatd, it opens guest sessions and lets a seat
// change through only with a bearer token of the body's user: a guest's, or
// one signed with fakeSecret.
type fakeSeatd struct {
	// mode is how it breaks: "oversell" (every hold succeeds), "5xx",
	// "silent" (refuses every hold, yet books the seats), "unauthorized"
	// (401 to every token), "rate-limited" (429 to every hold); or, sound
	// otherwise, how it opens sessions: "sessions-busy" (429 to the first
	// few), "sessions-exhausted" (429 to all); "sound" breaks nothing.
	mode     string
	mu       sync.Mutex
	seats    map[string]string // id → status
	order    []string
	sessions int // session requests answered
	verifier *auth.Verifier
}

func newFakeSeatd(tb testing.TB, mode string, n int) string {
	tb.Helper()
	url, _ := startFakeSeatd(tb, mode, n)
	return url
}

// startFakeSeatd is newFakeSeatd for tests that look at the fake afterwards.
func startFakeSeatd(tb testing.TB, mode string, n int) (string, *fakeSeatd) {
	tb.Helper()
	v, err := auth.NewVerifier([]byte(fakeSecret), nil)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fakeSeatd{mode: mode, seats: map[string]string{}, verifier: v}
	for i := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		f.seats[id] = statusAvailable
		f.order = append(f.order, id)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /api/seats/shows", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]show{{ID: "show1", SeatsTotal: n, SeatsAvailable: n}})
	})
	mux.HandleFunc("GET /api/seats/{showId}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		m := seatMap{ShowID: "show1"}
		for _, id := range f.order {
			m.Seats = append(m.Seats, seat{ID: id, Status: f.seats[id]})
		}
		json.NewEncoder(w).Encode(m)
	})
	mux.HandleFunc("POST /api/sessions", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.sessions++
		busy := f.mode == "sessions-exhausted" || (f.mode == "sessions-busy" && f.sessions <= 3)
		f.mu.Unlock()
		if r.Header.Get("Idempotency-Key") != "" || r.ContentLength > 0 {
			writeFakeProblem(w, http.StatusBadRequest, "invalid", "a session takes no body and no Idempotency-Key")
			return
		}
		if busy {
			w.Header().Set("Retry-After", "0") // seatd says at least 1; 0 keeps the test quick
			writeFakeProblem(w, http.StatusTooManyRequests, "rate-limited", "too many sessions")
			return
		}
		id := auth.NewGuestID()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(session{Token: "guest-token-" + id, UserID: id})
	})
	mux.HandleFunc("POST /api/seats/hold-bulk", func(w http.ResponseWriter, r *http.Request) {
		var b holdBody
		json.NewDecoder(r.Body).Decode(&b)
		if !f.authorized(w, r, b.UserID) {
			return
		}
		switch f.mode {
		case "5xx":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "rate-limited":
			w.Header().Set("Retry-After", "1")
			writeFakeProblem(w, http.StatusTooManyRequests, "rate-limited", "too many requests")
		case "silent":
			// Refuses everyone, yet books the seats behind their backs.
			f.mu.Lock()
			for _, id := range b.SeatIDs {
				f.seats[id] = statusBooked
			}
			f.mu.Unlock()
			writeFakeProblem(w, http.StatusConflict, "seats-unavailable", "")
		case "oversell":
			json.NewEncoder(w).Encode(holdAnswer{HoldToken: booking.NewID(), ShowID: "show1", SeatIDs: b.SeatIDs})
		default:
			f.mu.Lock()
			free := true
			for _, id := range b.SeatIDs {
				free = free && f.seats[id] == statusAvailable
			}
			if free {
				for _, id := range b.SeatIDs {
					f.seats[id] = statusHeld
				}
			}
			f.mu.Unlock()
			if !free {
				writeFakeProblem(w, http.StatusConflict, "seats-unavailable", "")
				return
			}
			json.NewEncoder(w).Encode(holdAnswer{HoldToken: booking.NewID(), ShowID: "show1", SeatIDs: b.SeatIDs})
		}
	})
	mux.HandleFunc("POST /api/seats/book-bulk", func(w http.ResponseWriter, r *http.Request) {
		var b seatsBody
		json.NewDecoder(r.Body).Decode(&b)
		if !f.authorized(w, r, b.UserID) {
			return
		}
		f.mu.Lock()
		for _, id := range b.SeatIDs {
			f.seats[id] = statusBooked
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(bookAnswer{BookingID: booking.NewID(), SeatIDs: b.SeatIDs})
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv.URL, f
}

// authorized answers 401 or 403, as seatd does, unless the request has a token
// of user: a guest token the fake gave out, or one signed with fakeSecret.
func (f *fakeSeatd) authorized(w http.ResponseWriter, r *http.Request, user string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sub, guest := strings.CutPrefix(token, "guest-token-")
	if !guest {
		c, err := f.verifier.Verify(token)
		ok = ok && err == nil
		sub = c.UserID
	}
	switch {
	case !ok || f.mode == "unauthorized":
		writeFakeProblem(w, http.StatusUnauthorized, "unauthenticated", "no valid bearer token")
		return false
	case user != sub:
		writeFakeProblem(w, http.StatusForbidden, "forbidden", fmt.Sprintf("userId %q is not the token's %q", user, sub))
		return false
	}
	return true
}

func writeFakeProblem(w http.ResponseWriter, status int, slug, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "/problems/" + slug, "status": status, "detail": detail})
}

func TestStormDetectsBrokenServers(t *testing.T) {
	tests := []struct {
		mode     string
		want     string // in the error
		wantText string // in the table output
	}{
		{"oversell", "were all told they booked it", "verification: FAILED"},
		{"5xx", "server errors (5xx)", "ERRORS: 0 without an answer, 20 server errors (5xx)"},
		{"silent", "is booked, but no buyer was told it booked it", "verification: FAILED"},
		{"unauthorized", "20 unexpected answers; first: hold: 401 /problems/unauthenticated", "note: 20 requests answered 401"},
		{"rate-limited", "20 unexpected answers; first: hold: 429 /problems/rate-limited", "note: 20 requests answered 429"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			url := newFakeSeatd(t, tt.mode, 4)
			var out bytes.Buffer
			err := run(t.Context(), []string{"storm", "-url", url, "-vus", "20", "-seats", "2", "-json"}, noEnv, &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("storm against a %s server: %v, want an error containing %q", tt.mode, err, tt.want)
			}
			var got summary
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if got.OK {
				t.Errorf("JSON says ok, want not ok:\n%s", out.String())
			}

			out.Reset()
			url = newFakeSeatd(t, tt.mode, 4)
			if err := run(t.Context(), []string{"storm", "-url", url, "-vus", "20", "-seats", "2"}, noEnv, &out, io.Discard); err == nil {
				t.Errorf("storm against a %s server without -json succeeded", tt.mode)
			}
			if !strings.Contains(out.String(), tt.wantText) {
				t.Errorf("table output lacks %q:\n%s", tt.wantText, out.String())
			}
			t.Logf("table output:\n%s", out.String())
		})
	}
	t.Run("interrupted", func(t *testing.T) {
		url := newFakeSeatd(t, "oversell", 4)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := run(ctx, []string{"storm", "-url", url}, noEnv, io.Discard, io.Discard)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("storm with a cancelled context = %v, want an error", err)
		}
	})
}

// TestStormTokens shows that a storm's buyers act as themselves, with guest
// sessions or with tokens seatload signs, and that a storm whose users cannot
// get sessions fails before it starts.
func TestStormTokens(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		args     []string
		getenv   func(string) string
		auth     string
		sessions int    // session requests the fake must have answered
		wantErr  string // empty: the storm must pass
	}{
		{name: "guest sessions", mode: "sound", auth: "sessions", sessions: 20},
		{name: "sessions refused a few times", mode: "sessions-busy", auth: "sessions", sessions: 23},
		{name: "signed", mode: "sound", args: []string{"-auth-secret", fakeSecret}, auth: "signed"},
		{name: "signed, secret from the environment", mode: "sound", auth: "signed",
			getenv: func(k string) string { return map[string]string{"SEATLOAD_AUTH_SECRET": fakeSecret}[k] }},
		{name: "sessions exhausted", mode: "sessions-exhausted", wantErr: "no more guest sessions"},
		{name: "the wrong secret", mode: "sound", args: []string{"-auth-secret", fakeSecret + "-not"}, wantErr: "hold: 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, fake := startFakeSeatd(t, tt.mode, 4)
			getenv := tt.getenv
			if getenv == nil {
				getenv = noEnv
			}
			var out bytes.Buffer
			args := append([]string{"storm", "-url", url, "-vus", "20", "-seats", "4", "-json"}, tt.args...)
			err := run(t.Context(), args, getenv, &out, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("storm: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("storm: %v\n%s", err, out.String())
			}
			var got summary
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if !got.OK || got.Auth != tt.auth || got.Storm == nil || got.Storm.Winners < 1 {
				t.Errorf("ok %v, auth %q, storm %+v; want ok, auth %q, a winner", got.OK, got.Auth, got.Storm, tt.auth)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if fake.sessions != tt.sessions {
				t.Errorf("got %d session requests, want %d", fake.sessions, tt.sessions)
			}
		})
	}
}
