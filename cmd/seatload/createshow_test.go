package main

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRowLabel(t *testing.T) {
	tests := []struct {
		i    int
		want string
	}{{0, "A"}, {25, "Z"}, {26, "AA"}, {51, "AZ"}, {52, "BA"}, {701, "ZZ"}, {702, "AAA"}}
	for _, tt := range tests {
		if got := rowLabel(tt.i); got != tt.want {
			t.Errorf("rowLabel(%d) = %q, want %q", tt.i, got, tt.want)
		}
	}
}

func TestStadiumLayout(t *testing.T) {
	tests := []struct {
		name            string
		seats, rowSeats int
		wantRows        int
		wantLast        int
	}{
		{"whole rows", 60_000, 100, 600, 100},
		{"a short last row", 250, 100, 3, 50},
		{"one short row", 7, 100, 1, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := stadiumLayout("m", "a", time.Now().Add(time.Hour), tt.seats, tt.rowSeats)
			if len(l.Rows) != tt.wantRows || l.Rows[len(l.Rows)-1].Seats != tt.wantLast {
				t.Fatalf("got %d rows, the last of %d seats; want %d rows, the last of %d", len(l.Rows), l.Rows[len(l.Rows)-1].Seats, tt.wantRows, tt.wantLast)
			}
			total, labels := 0, map[string]bool{}
			for _, r := range l.Rows {
				total += r.Seats
				if labels[r.Label] {
					t.Errorf("row label %q twice", r.Label)
				}
				labels[r.Label] = true
			}
			if total != tt.seats {
				t.Errorf("the rows have %d seats, want %d", total, tt.seats)
			}
			if body, _ := json.Marshal(l); len(body) > seatdMaxBody {
				t.Errorf("the layout is %d bytes, over seatd's %d", len(body), seatdMaxBody)
			}
		})
	}
}

func TestCreateShowArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"create-show"}, "-auth-secret (or SEATLOAD_AUTH_SECRET) is required"},
		{"no seats", []string{"create-show", "-auth-secret", e2eSecret, "-seats", "0"}, "-seats must be at least 1"},
		{"start in the past", []string{"create-show", "-auth-secret", e2eSecret, "-starts-in", "-1h"}, "-starts-in must be at least a minute"},
		{"over the body limit", []string{"create-show", "-auth-secret", e2eSecret, "-row-seats", "1", "-url", "http://127.0.0.1:1"}, "over seatd's 65536-byte body limit"},
		{"unreachable seatd", []string{"create-show", "-auth-secret", e2eSecret, "-url", "http://127.0.0.1:1"}, "POST /api/shows: no answer"},
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

var uuidLine = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)

// TestCreateShowAndSteady makes a show through the operator API, then runs
// steady on it alone: every worker a part of its seats, no other show touched.
func TestCreateShowAndSteady(t *testing.T) {
	url := startSeatd(t, map[string]string{
		"SEATD_AUTH_SECRET": e2eSecret, "SEATD_RATE_USER": "off", "SEATD_RATE_ADDRESS": "off",
	})
	var created createShowResult
	runJSON(t, &created, "create-show", "-url", url, "-auth-secret", e2eSecret, "-seats", "2000", "-name", "e2e stadium")
	if created.ShowID == "" || created.Seats != 2000 || created.Rows != 20 || created.MovieTitle != "e2e stadium" {
		t.Fatalf("create-show = %+v, want a show id, 2000 seats in 20 rows, titled e2e stadium", created)
	}

	t.Run("text output is the id", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(t.Context(), []string{"create-show", "-url", url, "-auth-secret", e2eSecret, "-seats", "10"}, noEnv, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if !uuidLine.MatchString(out.String()) {
			t.Errorf("stdout %q, want the show id alone on a line", out.String())
		}
	})

	t.Run("a token signed with another secret", func(t *testing.T) {
		err := run(t.Context(), []string{"create-show", "-url", url, "-auth-secret", "seatload-a-secret-seatd-does-not-know", "-seats", "10"}, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("create-show with another secret: %v, want a 401", err)
		}
	})

	t.Run("steady on the show", func(t *testing.T) {
		cl := newClient(url, 1)
		defer cl.close()
		before, err := cl.shows(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var s summary
		runJSON(t, &s, "steady", "-url", url, "-auth-secret", e2eSecret, "-show", created.ShowID, "-c", "8", "-duration", "1s")
		switch st := s.Steady; {
		case !s.OK || !s.Verification.OK || s.Verification.SeatsChecked != 2000:
			t.Errorf("ok %v, verification %+v; want ok with the show's 2000 seats checked", s.OK, s.Verification)
		case st == nil || st.Shows != 1 || st.Groups != 8 || st.FreeSeats != 2000:
			t.Errorf("steady = %+v, want 8 workers on 1 show, a group of its seats each, 2000 free seats", st)
		case st.Holds < 1 || st.Holds != st.Books+st.Releases || st.Conflicts != 0:
			t.Errorf("steady = %+v, want holds = books + releases > 0 and no conflicts", st)
		}
		after, err := cl.shows(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range after {
			i := slices.IndexFunc(before, func(b show) bool { return b.ID == sh.ID })
			switch {
			case i < 0:
				t.Errorf("show %s appeared during steady", sh.ID)
			case sh.ID == created.ShowID:
				if booked := before[i].SeatsAvailable - sh.SeatsAvailable; booked != s.Steady.SeatsBooked {
					t.Errorf("the show has %d seats fewer available, steady booked %d", booked, s.Steady.SeatsBooked)
				}
			case sh.SeatsAvailable != before[i].SeatsAvailable:
				t.Errorf("show %s, not steady's, went from %d to %d seats available", sh.ID, before[i].SeatsAvailable, sh.SeatsAvailable)
			}
		}
	})

	t.Run("steady on a show seatd lacks", func(t *testing.T) {
		err := run(t.Context(), []string{"steady", "-url", url, "-auth-secret", e2eSecret, "-show", "01a23812-0000-7000-8000-000000000000"}, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "no show 01a23812-0000-7000-8000-000000000000") {
			t.Errorf("steady -show of no show: %v, want an error naming it", err)
		}
	})
}
