package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to check sales by SQL
	goredis "github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite"

	"seatmanager/internal/testenv"
)

// The seed's promise, proven: 500 buyers at once on overlapping sets of the same
// 10 seats, each holding then booking. The database itself is then asked whether
// any seat was sold twice, whether any booking is partial, and whether the
// winners the clients were told of are exactly the sales on record.

const (
	stormUsers = 500
	stormSeats = 10
)

func TestConcurrentHoldAndBook(t *testing.T) {
	// postgres+none has no gate: every request reaches the database, whose row
	// locks must then sort the whole storm out.
	for _, backend := range []string{"sqlite+memory", "postgres+memory", "postgres+redis", "postgres+none"} {
		t.Run(backend, func(t *testing.T) {
			env := backendEnv(t, backend)
			s := startSeatd(t, env)
			c := newClient(t, s.url)
			show, m := c.firstShow(t)
			seats := seatIDs(m)[:stormSeats]
			begin := time.Now()
			res := storm(t, c, seats, stormUsers, nil)
			t.Logf("storm took %v", time.Since(begin))
			res.wantNoFailures(t)
			if len(res.told) == 0 {
				t.Fatal("nobody bought anything")
			}
			checkSales(t, openDB(t, env["SEATD_DATABASE_URL"]), show.ID, res.told)
			t.Logf("%d bookings, answers by status: %v", len(res.told), res.statuses())
		})
	}
}

// TestConcurrentRedisKilled kills Redis in the middle of a storm: requests must
// go on being answered (by the database alone) without a 5xx, and still no seat
// may be sold twice.
func TestConcurrentRedisKilled(t *testing.T) {
	r := testenv.StartRedis(t)
	env := map[string]string{
		"SEATD_DATABASE_URL": testenv.PostgresURL(t),
		"SEATD_DEMO":         "true",
		"SEATD_REDIS_URL":    "redis://" + r.Addr() + "/0",
		"SEATD_REDIS_PREFIX": testenv.KeyPrefix(t),
	}
	s := startSeatd(t, env)
	c := newClient(t, s.url)
	show, m := c.firstShow(t)
	var afterKill atomic.Int64
	var killed atomic.Bool
	var once sync.Once
	res := storm(t, c, seatIDs(m)[:stormSeats], stormUsers, func(done int) {
		if done == stormUsers/5 {
			once.Do(func() { r.Kill(t); killed.Store(true) })
		}
		if killed.Load() {
			afterKill.Add(1)
		}
	})
	res.wantNoFailures(t)
	checkSales(t, openDB(t, env["SEATD_DATABASE_URL"]), show.ID, res.told)
	if afterKill.Load() == 0 {
		t.Error("no request finished after Redis was killed; the test proved nothing")
	}
	// With Redis gone for good, seatd still sells seats.
	res = storm(t, c, seatIDs(m)[stormSeats:2*stormSeats], 50, nil)
	res.wantNoFailures(t)
	if len(res.told) == 0 {
		t.Error("nobody could buy a seat with Redis down")
	}
	for _, what := range []string{"seat gate unavailable", "idempotency markers unavailable"} {
		if !strings.Contains(s.logs.String(), what) {
			t.Errorf("seatd did not log %q:\n%s", what, s.logs)
		}
	}
}

// backendEnv returns seatd's environment for "store+gate".
func backendEnv(t *testing.T, backend string) map[string]string {
	t.Helper()
	env := map[string]string{}
	storeName, gateName, _ := strings.Cut(backend, "+")
	switch storeName {
	case "sqlite":
		env["SEATD_DATABASE_URL"] = filepath.Join(t.TempDir(), "seatd.db")
	case "postgres":
		env["SEATD_DATABASE_URL"] = testenv.PostgresURL(t)
		env["SEATD_DEMO"] = "true"
	default:
		t.Fatalf("unknown store %q", storeName)
	}
	switch gateName {
	case "redis":
		env["SEATD_REDIS_URL"] = "redis://" + testenv.RedisAddr(t) + "/0"
		env["SEATD_REDIS_PREFIX"] = testenv.KeyPrefix(t)
		restoreKeyspaceEvents(t, testenv.RedisAddr(t))
	case "none":
		env["SEATD_GATE"] = "false"
	}
	return env
}

func seatIDs(m seatMapJSON) []string {
	ids := make([]string, len(m.Seats))
	for i, s := range m.Seats {
		ids[i] = s.ID
	}
	return ids
}

// stormResult is what the clients of a storm were told.
type stormResult struct {
	mu       sync.Mutex
	told     map[string][]string // booking id → the seats its request asked for
	byStatus map[string]int      // "hold 200", "book 409", …
	failures []string            // 5xx answers, transport errors, unexpected statuses
	slowest  time.Duration       // the longest a request waited for its answer
}

func (r *stormResult) record(route string, status int, err error) {
	r.recordTimed(route, status, err, 0)
}

func (r *stormResult) recordTimed(route string, status int, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slowest = max(r.slowest, took)
	r.byStatus[fmt.Sprintf("%s %d", route, status)]++
	if err != nil || status >= 500 {
		r.failures = append(r.failures, fmt.Sprintf("%s: status %d, err %v", route, status, err))
	}
}

func (r *stormResult) statuses() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byStatus
}

func (r *stormResult) wantNoFailures(t *testing.T) {
	t.Helper()
	for i, f := range r.failures {
		if i == 10 {
			t.Errorf("… and %d more failures", len(r.failures)-10)
			break
		}
		t.Error(f)
	}
}

// storm has users buyers race for random sets of 1–3 of seats: each holds, and
// books if the hold succeeded. progress, if not nil, is called as each buyer
// finishes with the number finished so far.
func storm(t *testing.T, c *client, seats []string, users int, progress func(done int)) *stormResult {
	res := &stormResult{told: map[string][]string{}, byStatus: map[string]int{}}
	var finished atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			buy(c, res, fmt.Sprintf("user-%d", i), pick(rand.New(rand.NewPCG(uint64(i), 7)), seats))
			if progress != nil {
				progress(int(finished.Add(1)))
			}
		}()
	}
	close(start)
	wg.Wait()
	return res
}

func buy(c *client, res *stormResult, user string, want []string) {
	var hold struct{ HoldToken string }
	start := time.Now()
	status, err := c.call("POST", "/api/seats/hold-bulk", map[string]any{"seatIds": want, "userId": user}, &hold)
	res.recordTimed("hold", status, err, time.Since(start))
	if status != 200 {
		if err == nil && status != 409 {
			res.record("hold unexpected", status, fmt.Errorf("want 200 or 409"))
		}
		return
	}
	var bk struct{ BookingID string }
	start = time.Now()
	status, err = c.call("POST", "/api/seats/book-bulk", map[string]any{"seatIds": want, "userId": user, "holdToken": hold.HoldToken}, &bk)
	res.recordTimed("book", status, err, time.Since(start))
	if status != 200 {
		res.record("book of a fresh hold", status, fmt.Errorf("want 200"))
		return
	}
	res.mu.Lock()
	res.told[bk.BookingID] = want
	res.mu.Unlock()
}

func pick(r *rand.Rand, seats []string) []string {
	k := 1 + r.IntN(3)
	out := make([]string, k)
	for i, j := range r.Perm(len(seats))[:k] {
		out[i] = seats[j]
	}
	return out
}

// openDB opens the database seatd used, to check its rows directly.
func openDB(t *testing.T, databaseURL string) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if (Config{DatabaseURL: databaseURL}).UsesPostgres() {
		driver = "pgx"
	}
	db, err := sql.Open(driver, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkSales asserts, by SQL, that no seat of the show is sold twice, that every
// booking holds exactly the seats its request asked for, that the bookings on
// record are exactly those the clients were told of, and that the seats table
// agrees with the bookings table.
func checkSales(t *testing.T, db *sql.DB, showID string, told map[string][]string) {
	t.Helper()
	// The show id is a UUID the server gave us; quoting it inline keeps one query
	// text for both SQL dialects.
	rows, err := db.QueryContext(t.Context(), "SELECT booking_id, seat_id FROM bookings WHERE show_id = '"+showID+"'")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string][]string{}
	soldIn := map[string]string{}
	for rows.Next() {
		var bookingID, seatID string
		if err := rows.Scan(&bookingID, &seatID); err != nil {
			t.Fatal(err)
		}
		if other, ok := soldIn[seatID]; ok {
			t.Errorf("seat %s sold twice: in bookings %s and %s", seatID, other, bookingID)
		}
		soldIn[seatID] = bookingID
		recorded[bookingID] = append(recorded[bookingID], seatID)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id, seats := range told {
		if got, ok := recorded[id]; !ok {
			t.Errorf("booking %s was confirmed to its buyer but is not in the database", id)
		} else if !sameSet(got, seats) {
			t.Errorf("booking %s: database has seats %v, the request asked for %v", id, got, seats)
		}
	}
	for id, seats := range recorded {
		if _, ok := told[id]; !ok {
			t.Errorf("booking %s of seats %v is in the database but no buyer was told of it", id, seats)
		}
	}
	var booked int
	err = db.QueryRowContext(t.Context(), "SELECT count(*) FROM seats s JOIN bookings b ON b.seat_id = s.id AND b.booking_id = s.booking_id WHERE s.show_id = '"+showID+"' AND s.status = 'booked'").Scan(&booked)
	if err != nil {
		t.Fatal(err)
	}
	var bookedSeats int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM seats WHERE show_id = '"+showID+"' AND status = 'booked'").Scan(&bookedSeats); err != nil {
		t.Fatal(err)
	}
	if booked != len(soldIn) || bookedSeats != len(soldIn) {
		t.Errorf("seats table: %d booked seats, %d agreeing with bookings; bookings table: %d sold seats", bookedSeats, booked, len(soldIn))
	}
	// The event log, which has no unique key to lean on, tells the same story:
	// one booking event per sold seat, none for any other.
	var events, distinct int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*), count(DISTINCT seat_id) FROM seat_events WHERE show_id = '"+showID+"' AND status = 'booked'").Scan(&events, &distinct); err != nil {
		t.Fatal(err)
	}
	if events != len(soldIn) || distinct != len(soldIn) {
		t.Errorf("event log: %d booking events for %d seats, want one for each of the %d sold", events, distinct, len(soldIn))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// restoreKeyspaceEvents puts the shared Redis's notify-keyspace-events back as
// it was after the test, since seatd enables expiry events there.
func restoreKeyspaceEvents(t *testing.T, addr string) {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	before, err := client.ConfigGet(t.Context(), "notify-keyspace-events").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer client.Close()
		if err := client.ConfigSet(context.Background(), "notify-keyspace-events", before["notify-keyspace-events"]).Err(); err != nil {
			t.Errorf("restore notify-keyspace-events: %v", err)
		}
	})
}
