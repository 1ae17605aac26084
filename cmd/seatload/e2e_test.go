package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/internal/testenv"
)

// startSeatd runs the real seatd on a fresh SQLite file on a free loopback
// port, as a user would, with its defaults but for env; it is stopped at the
// end of the test.
func startSeatd(tb testing.TB, env map[string]string) string {
	tb.Helper()
	all := map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(tb.TempDir(), "seatd.db"),
		// More shows than steady's workers, so that each has whole shows.
		"SEATD_DEMO_SHOWS": "16",
	}
	maps.Copy(all, env)
	return testenv.StartSeatd(tb, all).URL
}

// runJSON runs seatload with args and -json, and decodes its output into v.
func runJSON(tb testing.TB, v any, args ...string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	start := time.Now()
	err := run(tb.Context(), append(args, "-json"), noEnv, &out, &errOut)
	tb.Logf("seatload %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		tb.Fatalf("seatload %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		tb.Fatalf("seatload %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// e2eSecret is the SEATD_AUTH_SECRET of the seatd that steady loads, and
// seatload's -auth-secret against it.
const e2eSecret = "seatload-end-to-end-secret-of-32-bytes"

func TestEndToEnd(t *testing.T) {
	// The storms and the live run load a seatd as deployed: its rate limits
	// on (a storm's 50 buyers each make a hold and a book, far below them),
	// and users that open guest sessions as real clients do.
	url := startSeatd(t, nil)
	// steady measures throughput: 4 users making changes as fast as seatd
	// answers, from one address, which seatd's limits per user (10/s) and
	// per address (6000/m) would cap, and fail with 429s. So its seatd has
	// them off, and a secret seatload signs its users' tokens with.
	steadyURL := startSeatd(t, map[string]string{
		"SEATD_AUTH_SECRET": e2eSecret, "SEATD_RATE_USER": "off", "SEATD_RATE_ADDRESS": "off",
	})

	t.Run("storm", func(t *testing.T) {
		var s summary
		runJSON(t, &s, "storm", "-url", url, "-vus", "50", "-seats", "10")
		switch st := s.Storm; {
		case !s.OK || !s.Verification.OK || s.Verification.SeatsChecked != 10:
			t.Errorf("ok %v, verification %+v, want ok with 10 seats checked", s.OK, s.Verification)
		case st == nil || st.Winners < 1 || st.SeatsBooked < 1 || st.SeatsBooked > 10:
			t.Errorf("storm = %+v, want at least one winner and 1–10 seats booked", st)
		case st.Winners+st.Losers != 50 || st.LosersAnswered != st.Losers:
			t.Errorf("storm = %+v, want 50 buyers, every loser answered 409", st)
		case s.Requests != 50+st.Winners || s.Throughput <= 0:
			t.Errorf("%d requests at %g/s, want 50 holds + %d books", s.Requests, s.Throughput, st.Winners)
		case s.Auth != "sessions":
			t.Errorf("auth %q, want sessions", s.Auth)
		}
		for _, r := range s.Routes {
			if r.LatencyMs.P50 <= 0 || r.LatencyMs.P50 > r.LatencyMs.P99 || r.LatencyMs.P99 > r.LatencyMs.Max {
				t.Errorf("route %s latencies %+v, want 0 < p50 ≤ p99 ≤ max", r.Route, r.LatencyMs)
			}
		}
	})

	t.Run("steady", func(t *testing.T) {
		var s summary
		runJSON(t, &s, "steady", "-url", steadyURL, "-auth-secret", e2eSecret, "-c", "4", "-duration", "2s")
		switch st := s.Steady; {
		case !s.OK || !s.Verification.OK || s.Auth != "signed":
			t.Errorf("ok %v, verification %+v, auth %q; want ok with signed tokens", s.OK, s.Verification, s.Auth)
		case st == nil || st.Holds < 1 || st.Holds != st.Books+st.Releases || st.Conflicts != 0:
			t.Errorf("steady = %+v, want holds = books + releases > 0 and no conflicts", st)
		case s.WallSeconds < 0.5 || s.WallSeconds > 10:
			t.Errorf("wall time %gs, want about 2s", s.WallSeconds)
		}
	})

	t.Run("live", func(t *testing.T) {
		var r liveResult
		runJSON(t, &r, "live", "-url", url, "-sockets", "50", "-shows", "2", "-changes", "10", "-pace", "5ms")
		switch {
		case !r.OK || r.Missed != 0 || r.Lagging != 0:
			t.Errorf("live = %+v, want every socket to get every change", r)
		case r.DelayMs.P50 <= 0 || r.DelayMs.P50 > r.DelayMs.Max || r.LastSocketMs.Max < r.DelayMs.P99:
			t.Errorf("delays %+v, last socket %+v, want 0 < p50 ≤ max and the last socket's max at least the p99", r.DelayMs, r.LastSocketMs)
		}
	})

	t.Run("storm with viewers", func(t *testing.T) {
		var s summary
		runJSON(t, &s, "storm", "-url", url, "-vus", "50", "-seats", "10", "-viewers", "20")
		if !s.OK || !s.Verification.OK || s.Storm == nil || s.Storm.Viewers != 20 || s.Storm.Converged != 20 {
			t.Errorf("ok %v, verification %+v, storm %+v; want 20 viewers, all ending with the final seat map", s.OK, s.Verification, s.Storm)
		}
	})

	t.Run("browse", func(t *testing.T) {
		var s summary
		runJSON(t, &s, "browse", "-url", url, "-c", "4", "-duration", "1s")
		if !s.OK || s.Verification.SeatMapsChecked < 1 || s.Requests < s.Verification.SeatMapsChecked || s.Throughput <= 0 {
			t.Errorf("browse: ok %v, %d requests at %g/s, verification %+v; want ok with seat maps checked",
				s.OK, s.Requests, s.Throughput, s.Verification)
		}
	})

	// Last, as it leaves seats held: steady against seatd's rate limits
	// fails, its 429s counted as unexpected answers.
	t.Run("steady, rate limited", func(t *testing.T) {
		var out bytes.Buffer
		err := run(t.Context(), []string{"steady", "-url", url, "-c", "2", "-duration", "1s", "-json"}, noEnv, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "unexpected answers") {
			t.Fatalf("steady against seatd's default rate limits: %v, want unexpected answers", err)
		}
		var s summary
		if err := json.Unmarshal(out.Bytes(), &s); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
		limited := 0
		for _, r := range s.Routes {
			limited += r.Statuses["429"]
		}
		if s.OK || limited == 0 || limited > s.Errors.Unexpected || !strings.Contains(strings.Join(s.Notes, "\n"), "answered 429") {
			t.Errorf("ok %v, %d answered 429, errors %+v, notes %q; want 429s counted as unexpected and a note on them", s.OK, limited, s.Errors, s.Notes)
		}
	})
}

func TestCalibrate(t *testing.T) {
	var c calibration
	runJSON(t, &c, "calibrate", "-duration", "1s", "-c", "4", "-rows", "1000")
	switch {
	case !c.OK:
		t.Errorf("calibrate not ok: %+v", c)
	case c.Hello.Ops < 1 || c.Hello.PerSecond <= 0 || c.Hello.Errors != 0:
		t.Errorf("hello = %+v, want some requests and no errors", c.Hello)
	case c.SQLite.Ops < 1 || c.SQLite.PerSecond <= 0 || c.SQLite.Errors != 0:
		t.Errorf("sqlite = %+v, want some UPDATEs and no errors", c.SQLite)
	case c.PG != nil || c.PGSkipped == "":
		t.Errorf("pg = %+v, skipped %q; want it skipped without -pg-url", c.PG, c.PGSkipped)
	}
}

// TestCalibrateLive loads the bare hub, in a process of its own, as live
// loads seatd.
func TestCalibrateLive(t *testing.T) {
	var c calibration
	runJSON(t, &c, "calibrate", "-duration", "1s", "-c", "4", "-rows", "1000", "-live-sockets", "30", "-live-changes", "5")
	if l := c.Live; !c.OK || l == nil || !l.OK || l.Sockets != 30 || l.DelayMs.Max <= 0 || l.BytesPerSocket == 0 {
		t.Errorf("calibrate: ok %v, live %+v; want 30 sockets, every change delivered, delays and memory measured", c.OK, l)
	}
}

// TestCalibratePostgres runs the PostgreSQL measurements, seatd's own store
// included, and checks that they leave nothing behind in the database.
func TestCalibratePostgres(t *testing.T) {
	pg := testenv.PostgresURL(t)
	var c calibration
	runJSON(t, &c, "calibrate", "-duration", "1s", "-c", "4", "-rows", "1000", "-pg-url", pg)
	if !c.OK || c.PG == nil {
		t.Fatalf("calibrate: ok %v, pg %+v; want ok with PostgreSQL measured", c.OK, c.PG)
	}
	for _, r := range []loopResult{c.PG.Random, c.PG.Store} {
		if r.Ops < 1 || r.PerSecond <= 0 || r.Errors != 0 {
			t.Errorf("%s = %+v, want some operations and no errors", r.What, r)
		}
	}
	conn, err := pgx.Connect(t.Context(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var left int
	err = conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, storeSchema).Scan(&left)
	if err == nil {
		var tables int
		err = conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE tablename = $1`, calibrateTable).Scan(&tables)
		left += tables
	}
	if err != nil || left != 0 {
		t.Errorf("after calibrate: %d scratch schemas and tables left (%v), want none", left, err)
	}
}
