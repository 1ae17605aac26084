package main

import (
	"database/sql"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"seatmanager/internal/testenv"
)

// holdJSON is a hold-bulk answer.
type holdJSON struct {
	HoldToken string    `json:"holdToken"`
	SeatIDs   []string  `json:"seatIds"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (c *client) hold(t *testing.T, user string, seats ...string) holdJSON {
	t.Helper()
	var h holdJSON
	c.mustCall(t, "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": seats, "userId": user}, 200, &h)
	return h
}

// releasedAt returns when the database logged a seat's latest release, if it has.
func releasedAt(t *testing.T, db *sql.DB, postgres bool, seatID string) (time.Time, bool) {
	t.Helper()
	at := "at"
	if postgres {
		at = "(extract(epoch FROM at) * 1000)::bigint"
	}
	var ms int64
	err := db.QueryRowContext(t.Context(), "SELECT "+at+" FROM seat_events WHERE seat_id = '"+seatID+
		"' AND status = 'available' ORDER BY seq DESC LIMIT 1").Scan(&ms)
	if err == sql.ErrNoRows {
		return time.Time{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(ms), true
}

// awaitRelease waits until the database has released a hold's seats, and
// returns how long after the hold's expiry that happened.
func awaitRelease(t *testing.T, db *sql.DB, postgres bool, h holdJSON, within time.Duration) time.Duration {
	t.Helper()
	deadline := h.ExpiresAt.Add(within)
	for {
		var latest time.Time
		all := true
		for _, seat := range h.SeatIDs {
			at, ok := releasedAt(t, db, postgres, seat)
			all = all && ok
			latest = maxTime(latest, at)
		}
		if all {
			return latest.Sub(h.ExpiresAt)
		}
		if time.Now().After(deadline) {
			t.Fatalf("hold %s expiring at %v: seats not released within %v of expiry", h.HoldToken, h.ExpiresAt, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// metric returns the value of one sample of seatd's /metrics.
func (c *client) metric(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := c.http.Get(c.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExpiryFastPath: with the sweep off, lapsed holds are released by the
// in-process timer (embedded default), or with Redis by whichever comes first of
// the timer and the keyspace event, well within 500 ms of their expiry.
func TestExpiryFastPath(t *testing.T) {
	for backend, paths := range map[string][]string{"sqlite+memory": {"timer"}, "postgres+redis": {"timer", "event"}} {
		t.Run(backend, func(t *testing.T) {
			env := backendEnv(t, backend)
			env["SEATD_HOLD_TTL"] = "1s"
			env["SEATD_SWEEP_INTERVAL"] = "0"
			s := startSeatd(t, env)
			c := newClient(t, s.url)
			_, m := c.firstShow(t)
			seats := seatIDs(m)
			holds := []holdJSON{c.hold(t, "alice", seats[0], seats[1], seats[2]), c.hold(t, "bob", seats[3])}
			var before seatMapJSON
			c.mustCall(t, "GET", "/api/seats/"+m.ShowID, nil, 200, &before)
			db := openDB(t, env["SEATD_DATABASE_URL"])
			pg := backend != "sqlite+memory"
			for _, h := range holds {
				delay := awaitRelease(t, db, pg, h, 5*time.Second)
				if delay > 500*time.Millisecond {
					t.Errorf("hold released %v after its expiry, want within 500ms", delay)
				}
				t.Logf("released %v after expiry", delay)
			}
			// The seat map shows the seats available (it would by lazy expiry
			// alone) and, by its seq, that their release was logged: one event a seat.
			var after seatMapJSON
			c.mustCall(t, "GET", "/api/seats/"+m.ShowID, nil, 200, &after)
			if after.Seq != before.Seq+4 {
				t.Errorf("seat map seq went from %d to %d, want 4 release events", before.Seq, after.Seq)
			}
			for _, seat := range after.Seats[:4] {
				if seat.Status != "available" {
					t.Errorf("seat %s is %s after its hold lapsed", seat.Label, seat.Status)
				}
			}
			if got := c.released(t, paths...); got != 2 {
				t.Errorf("holds released by %v: got %v, want 2", paths, got)
			}
		})
	}
}

// released sums seatd's count of lapsed holds released by the given paths.
func (c *client) released(t *testing.T, paths ...string) float64 {
	t.Helper()
	var n float64
	for _, path := range paths {
		n += c.metric(t, fmt.Sprintf(`seatd_lapsed_holds_released_total{path=%q}`, path))
	}
	return n
}

// orphanedHolds runs two seatd on one PostgreSQL and a Redis of their own, has
// the first make holds (two of two seats and one), and stops it before they
// lapse, taking its timers along. It returns the Redis, the database and a
// client of the instance left.
func orphanedHolds(t *testing.T, sweepInterval string) (*testenv.Redis, string, *client, []holdJSON) {
	t.Helper()
	// A Redis of its own: few keys, so its expiry cycle finds the hold keys at once.
	r := testenv.StartRedis(t)
	env := map[string]string{
		"SEATD_DATABASE_URL": testenv.PostgresURL(t), "SEATD_DEMO": "true",
		"SEATD_REDIS_URL": "redis://" + r.Addr() + "/0", "SEATD_REDIS_PREFIX": testenv.KeyPrefix(t),
		"SEATD_HOLD_TTL": "1s", "SEATD_SWEEP_INTERVAL": sweepInterval,
	}
	maker := startSeatd(t, env)
	left := newClient(t, startSeatd(t, env).url)
	c := newClient(t, maker.url)
	_, m := c.firstShow(t)
	seats := seatIDs(m)
	holds := []holdJSON{c.hold(t, "alice", seats[0], seats[1]), c.hold(t, "bob", seats[2])}
	c.http.CloseIdleConnections()
	if err := maker.stop(); err != nil {
		t.Fatal(err)
	}
	return r, env["SEATD_DATABASE_URL"], left, holds
}

// TestExpiryEventOutlivesItsInstance: holds made by an instance that stops
// before they lapse are released by another instance, through Redis's keyspace
// event.
func TestExpiryEventOutlivesItsInstance(t *testing.T) {
	_, dbURL, survivor, holds := orphanedHolds(t, "0")
	db := openDB(t, dbURL)
	for _, h := range holds {
		if delay := awaitRelease(t, db, true, h, 5*time.Second); delay > 500*time.Millisecond {
			t.Errorf("hold released %v after its expiry, want within 500ms", delay)
		}
	}
	if got := survivor.released(t, "event"); got != 2 {
		t.Errorf("the surviving instance released %v holds by event, want 2", got)
	}
}

// TestSweeperCatchesLostEvents: the instance that made the holds stops (taking
// its timers along), and Redis restarts without persistence (taking the hold
// keys and the event configuration along); another instance's sweep still
// releases them.
func TestSweeperCatchesLostEvents(t *testing.T) {
	r, dbURL, sweeper, holds := orphanedHolds(t, "200ms")
	r.Kill(t)
	r.Start(t)
	db := openDB(t, dbURL)
	for _, h := range holds {
		awaitRelease(t, db, true, h, 5*time.Second)
	}
	if got := sweeper.released(t, "sweeper"); got != 2 {
		t.Errorf("sweeper releases: got %v, want 2", got)
	}
}

// TestTwoInstancesReleaseOnce: two seatd on one PostgreSQL and Redis both hear
// every expiry event; each lapsed hold's seats are still released exactly once.
func TestTwoInstancesReleaseOnce(t *testing.T) {
	env := backendEnv(t, "postgres+redis")
	env["SEATD_HOLD_TTL"] = "1s"
	env["SEATD_SWEEP_INTERVAL"] = "0"
	a := newClient(t, startSeatd(t, env).url)
	b := newClient(t, startSeatd(t, env).url)
	_, m := a.firstShow(t)
	seats := seatIDs(m)
	var holds []holdJSON
	for i := range 10 {
		c := a
		if i%2 == 1 {
			c = b
		}
		holds = append(holds, c.hold(t, fmt.Sprintf("user-%d", i), seats[2*i], seats[2*i+1]))
	}
	db := openDB(t, env["SEATD_DATABASE_URL"])
	for _, h := range holds {
		awaitRelease(t, db, true, h, 5*time.Second)
	}
	var events, seatsReleased int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*), count(DISTINCT seat_id) FROM seat_events WHERE status = 'available'").Scan(&events, &seatsReleased); err != nil {
		t.Fatal(err)
	}
	if events != 20 || seatsReleased != 20 {
		t.Errorf("got %d release events for %d seats, want one for each of 20", events, seatsReleased)
	}
	// Seats, not holds: the two instances may split one hold's seats between
	// them (a release skips the seats another one has locked), each freeing
	// its part once.
	var freed float64
	for _, c := range []*client{a, b} {
		for _, path := range []string{"event", "timer"} {
			freed += c.metric(t, fmt.Sprintf(`seatd_lapsed_seats_released_total{path=%q}`, path))
		}
	}
	if freed != 20 {
		t.Errorf("seats released over both instances: got %v, want 20", freed)
	}
}
