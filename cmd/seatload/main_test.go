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
		{"unreachable seatd", []string{"storm", "-url", "http://127.0.0.1:1"}, "storm: GET /api/seats/shows: no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// fakeSeatd is a seat API that breaks its promises in one chosen way, to show
// that storm notices.
type fakeSeatd struct {
	mode  string // "oversell", "5xx" or "silent"
	mu    sync.Mutex
	seats map[string]string // id → status
	order []string
}

func newFakeSeatd(tb testing.TB, mode string, n int) string {
	tb.Helper()
	f := &fakeSeatd{mode: mode, seats: map[string]string{}}
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
	mux.HandleFunc("POST /api/seats/hold-bulk", func(w http.ResponseWriter, r *http.Request) {
		var b holdBody
		json.NewDecoder(r.Body).Decode(&b)
		switch f.mode {
		case "5xx":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "silent":
			// Refuses everyone, yet books the seats behind their backs.
			f.mu.Lock()
			for _, id := range b.SeatIDs {
				f.seats[id] = statusBooked
			}
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"type":"/problems/seats-unavailable","status":409}`)
		default:
			json.NewEncoder(w).Encode(holdAnswer{HoldToken: booking.NewID(), ShowID: "show1", SeatIDs: b.SeatIDs})
		}
	})
	mux.HandleFunc("POST /api/seats/book-bulk", func(w http.ResponseWriter, r *http.Request) {
		var b seatsBody
		json.NewDecoder(r.Body).Decode(&b)
		f.mu.Lock()
		for _, id := range b.SeatIDs {
			f.seats[id] = statusBooked
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(bookAnswer{BookingID: booking.NewID(), SeatIDs: b.SeatIDs})
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv.URL
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
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			url := newFakeSeatd(t, tt.mode, 4)
			var out bytes.Buffer
			err := run(t.Context(), []string{"storm", "-url", url, "-vus", "20", "-seats", "2", "-json"}, &out, io.Discard)
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
			if err := run(t.Context(), []string{"storm", "-url", url, "-vus", "20", "-seats", "2"}, &out, io.Discard); err == nil {
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
		err := run(ctx, []string{"storm", "-url", url}, io.Discard, io.Discard)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("storm with a cancelled context = %v, want an error", err)
		}
	})
}
