package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestContendEndToEnd runs contend against a real seatd: every request a
// refusal, the holders' holds intact after the run, and released.
func TestContendEndToEnd(t *testing.T) {
	url := startSeatd(t, map[string]string{
		"SEATD_AUTH_SECRET": e2eSecret, "SEATD_RATE_USER": "off", "SEATD_RATE_ADDRESS": "off",
	})
	var s summary
	runJSON(t, &s, "contend", "-url", url, "-auth-secret", e2eSecret, "-c", "16", "-duration", "1s", "-seats", "8")
	c := s.Contend
	if c == nil {
		t.Fatalf("no contend object in the summary: %+v", s)
	}
	if !s.OK || !s.Verification.OK || s.Verification.SeatsChecked != 8 || s.Errors.total() != 0 {
		t.Errorf("ok %v, errors %+v, verification %+v; want ok, no errors, 8 seats checked", s.OK, s.Errors, s.Verification)
	}
	want := contendResult{Workers: 16, Seats: 8, Holders: 1, Holds: 2, Shows: 1, HoldTTLSeconds: 60, HoldsIntact: 2, Released: 2}
	got := *c
	got.Refusals, got.RefusalsPerSecond = 0, 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("contend result (-want +got):\n%s", diff)
	}
	if c.Refusals < 1 || c.Refusals != s.Requests || c.RefusalsPerSecond <= 0 {
		t.Errorf("%d refusals (%g/s) of %d requests, want every request refused", c.Refusals, c.RefusalsPerSecond, s.Requests)
	}
	if len(s.Routes) != 1 || s.Routes[0].Route != routeHold || !cmp.Equal(s.Routes[0].Statuses, map[string]int{"409": s.Requests}) {
		t.Errorf("routes %+v, want only holds, all answered 409", s.Routes)
	}
	// Released: every seat of the fresh database is on sale again.
	cl := newClient(url, 1)
	defer cl.close()
	shows, err := cl.shows(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shows {
		if sh.SeatsAvailable != sh.SeatsTotal {
			t.Errorf("after contend, show %s has %d of %d seats available, want all", sh.ID, sh.SeatsAvailable, sh.SeatsTotal)
		}
	}
}

// TestContendShortHoldTTL checks that contend refuses a run its holds would
// not outlast, and releases them before it says so.
func TestContendShortHoldTTL(t *testing.T) {
	url := startSeatd(t, map[string]string{"SEATD_AUTH_SECRET": e2eSecret, "SEATD_HOLD_TTL": "4s"})
	err := run(t.Context(), []string{"contend", "-url", url, "-auth-secret", e2eSecret, "-c", "2", "-duration", "1s", "-seats", "6"}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SEATD_HOLD_TTL") {
		t.Fatalf("contend against a 4s hold TTL: %v, want an error naming SEATD_HOLD_TTL", err)
	}
	cl := newClient(url, 1)
	defer cl.close()
	shows, err := cl.shows(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shows {
		if sh.SeatsAvailable != sh.SeatsTotal {
			t.Errorf("after the refused run, show %s has %d of %d seats available, want all released", sh.ID, sh.SeatsAvailable, sh.SeatsTotal)
		}
	}
}

// TestContenderAnswers checks how a contender counts each answer seatd
// could give to a hold of seats other users hold.
func TestContenderAnswers(t *testing.T) {
	asked := []string{"s1", "s2"}
	tests := []struct {
		name        string
		status      int
		body        string // problem+json for an error status
		refusals    int
		partly      int
		stolen      int
		wantFailure failures
	}{
		{"refused, both named", 409, `{"type":"/problems/seats-unavailable","conflictingSeatIds":["s1","s2"]}`, 1, 0, 0, failures{}},
		{"refused, one named", 409, `{"type":"/problems/seats-unavailable","conflictingSeatIds":["s2"]}`, 1, 1, 0, failures{}},
		{"refused, none named", 409, `{"type":"/problems/seats-unavailable"}`, 0, 0, 0, failures{Unexpected: 1}},
		{"refused, another seat named", 409, `{"type":"/problems/seats-unavailable","conflictingSeatIds":["s1","s9"]}`, 0, 0, 0, failures{Unexpected: 1}},
		{"another 409", 409, `{"type":"/problems/limit-reached"}`, 0, 0, 0, failures{Unexpected: 1}},
		{"granted", 200, `{"holdToken":"t1","showId":"show1","seatIds":["s1","s2"]}`, 0, 0, 1, failures{Unexpected: 1}},
		{"rate limited", 429, `{"type":"/problems/rate-limited"}`, 0, 0, 0, failures{Unexpected: 1}},
		{"overloaded", 503, `{"type":"/problems/overloaded"}`, 0, 0, 0, failures{ServerErrors: 1, ServerProblems: map[string]int{"overloaded": 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status != http.StatusOK {
					w.Header().Set("Content-Type", "application/problem+json")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			cl := newClient(srv.URL, 1)
			defer cl.close()
			c := &contender{user: &user{name: "u", id: "u", token: "x"}, rec: &recorder{}}
			c.try(t.Context(), cl, "show1", asked)
			if c.refusals != tt.refusals || c.partly != tt.partly || len(c.stolen) != tt.stolen {
				t.Errorf("refusals %d, partly %d, stolen %d; want %d, %d, %d", c.refusals, c.partly, len(c.stolen), tt.refusals, tt.partly, tt.stolen)
			}
			got := c.rec.failures
			got.Messages = nil
			if diff := cmp.Diff(tt.wantFailure, got); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContendArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"duration past the hold TTL", []string{"contend", "-duration", "50s"}, "-duration must be below 50s"},
		{"no seats", []string{"contend", "-seats", "0"}, "-seats must be at least 1"},
		{"no workers", []string{"contend", "-c", "0"}, "-c must be at least 1"},
		{"unreachable seatd", []string{"contend", "-url", "http://127.0.0.1:1"}, "contend: GET /api/seats/shows: no answer"},
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

// TestContendTextOutput checks the table names the refusals.
func TestContendTextOutput(t *testing.T) {
	s := summary{Command: "contend", Contend: &contendResult{Workers: 4, Seats: 8, Holders: 1, Holds: 2, Shows: 1, Refusals: 10}}
	s.extraText = s.Contend.writeText
	s.Verification = verification{OK: true, okText: "8 seats still held"}
	var out bytes.Buffer
	if err := emit(&out, s, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"contend: 4 workers on 8 seats held by 1 holder (2 holds of 1 show", "10 refusals", "verification: ok (8 seats still held)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table output lacks %q:\n%s", want, out.String())
		}
	}
	// The JSON keeps its field names: the benchmark reads them.
	var buf bytes.Buffer
	if err := emit(&buf, s, true); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Contend map[string]any `json:"contend"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"workers", "seats", "refusals", "refusalsPerSecond", "holders"} {
		if _, ok := raw.Contend[k]; !ok {
			t.Errorf("contend JSON lacks %q: %v", k, raw.Contend)
		}
	}
}
