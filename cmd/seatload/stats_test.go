package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample, p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample, p99", ms(7), 99, 7 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p90", ms(hundred...), 90, 90 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 max", ms(hundred...), 100, 100 * time.Millisecond},
		{"four samples p50 is the 2nd", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four samples p90 is the 4th", ms(1, 2, 3, 4), 90, 4 * time.Millisecond},
		{"tiny p rounds up to the first", ms(1, 2, 3, 4), 0.1, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %g) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

// fakeRun is a storm-like run: 3 holds (one lost), 1 book, one request without an answer.
func fakeRun() []*recorder {
	a, b := &recorder{}, &recorder{}
	a.add(routeHold, 200, 10*time.Millisecond)
	a.add(routeBook, 200, 30*time.Millisecond)
	b.add(routeHold, 409, 2*time.Millisecond)
	b.add(routeHold, 200, 4*time.Millisecond)
	b.add(routeSeatMap, 0, 30*time.Second)
	b.fail(failTransport, routeSeatMap, "no answer: timeout")
	return []*recorder{a, b, nil}
}

func TestNewSummary(t *testing.T) {
	s := newSummary("storm", "http://x", 2, 2*time.Second, fakeRun())
	want := []routeStats{
		{Route: routeSeatMap, Count: 1, Statuses: map[string]int{"error": 1}, Throughput: 0.5,
			LatencyMs: latencyMs{P50: 30000, P90: 30000, P99: 30000, Max: 30000}},
		{Route: routeHold, Count: 3, Statuses: map[string]int{"200": 2, "409": 1}, Throughput: 1.5,
			LatencyMs: latencyMs{P50: 4, P90: 10, P99: 10, Max: 10}},
		{Route: routeBook, Count: 1, Statuses: map[string]int{"200": 1}, Throughput: 0.5,
			LatencyMs: latencyMs{P50: 30, P90: 30, P99: 30, Max: 30}},
	}
	if diff := cmp.Diff(want, s.Routes); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if s.Requests != 5 || s.Throughput != 2.5 {
		t.Errorf("requests, throughput = %d, %g, want 5, 2.5", s.Requests, s.Throughput)
	}
	if got, want := s.LatencyMs, (latencyMs{P50: 10, P90: 30000, P99: 30000, Max: 30000}); got != want {
		t.Errorf("overall latency = %+v, want %+v", got, want)
	}
	if s.Errors.Transport != 1 || s.Errors.total() != 1 {
		t.Errorf("errors = %+v, want 1 transport error", s.Errors)
	}
}

func TestEmit(t *testing.T) {
	tests := []struct {
		name    string
		recs    []*recorder
		verify  verification
		wantErr string // "" for success
	}{
		{"clean", []*recorder{{samples: []sample{{routeHold, 200, time.Millisecond}}}}, verification{OK: true, SeatsChecked: 1}, ""},
		{"transport error", fakeRun(), verification{OK: true}, "1 request without an answer"},
		{"verification failed", nil, func() verification {
			var v verification
			v.problem("seat X sold twice")
			return v
		}(), "verification FAILED: 1 problem, first: seat X sold twice"},
		{"verification skipped", nil, verification{Skipped: "the run was interrupted"}, "verification skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, asJSON := range []bool{false, true} {
				s := newSummary("storm", "http://x", 2, time.Second, tt.recs)
				s.Storm = &stormResult{VUs: 2, Winners: 1}
				s.extraText = s.Storm.writeText
				s.Verification = tt.verify
				var out bytes.Buffer
				err := emit(&out, s, asJSON)
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("json=%v: emit: %v, want no error", asJSON, err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("json=%v: emit error = %v, want one containing %q", asJSON, err, tt.wantErr)
				}
				if !asJSON {
					if !strings.Contains(out.String(), "verification:") {
						t.Errorf("text output has no verification line:\n%s", out.String())
					}
					continue
				}
				var got struct {
					Command      string `json:"command"`
					OK           bool   `json:"ok"`
					Requests     int    `json:"requests"`
					Routes       []routeStats
					Storm        *stormResult `json:"storm"`
					Verification verification `json:"verification"`
				}
				if err := json.Unmarshal(out.Bytes(), &got); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out.String())
				}
				if got.Command != "storm" || got.OK != (tt.wantErr == "") || got.Storm == nil || got.Storm.Winners != 1 {
					t.Errorf("JSON = %+v, want command storm, ok %v, storm.winners 1", got, tt.wantErr == "")
				}
				if got.Requests != s.Requests || len(got.Routes) != len(s.Routes) {
					t.Errorf("JSON has %d requests on %d routes, want %d on %d", got.Requests, len(got.Routes), s.Requests, len(s.Routes))
				}
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, [][]string{{"route", "count"}, {"hold", "12345"}, {"release", "7"}})
	want := "route    count\nhold     12345\nrelease      7\n"
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

// TestOverloadNotes checks that 5xx answers of seatd's limits, counted by
// problem type across users, come with a note naming the setting.
func TestOverloadNotes(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	a.serverProblem(&problem{Type: "/problems/overloaded"})
	b.serverProblem(&problem{Type: "/problems/overloaded"})
	b.serverProblem(&problem{Type: "/problems/timeout"})
	b.serverProblem(nil)
	s := newSummary("storm", "http://seatd", 2, time.Second, []*recorder{a, b})
	if diff := cmp.Diff(map[string]int{"overloaded": 2, "timeout": 1, "other": 1}, s.Errors.ServerProblems); diff != "" {
		t.Errorf("server problems (-want +got):\n%s", diff)
	}
	notes := strings.Join(s.Notes, "\n")
	for _, want := range []string{"2 requests answered 503 overloaded", "SEATD_MAX_REQUESTS", "1 request answered 503 timeout", "SEATD_REQUEST_TIMEOUT"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
}
