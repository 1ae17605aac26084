package postgres_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"

	"seatmanager/internal/testenv"
	"seatmanager/postgres"
	"seatmanager/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// MustOpen opens a store on a new database of the test PostgreSQL server.
func MustOpen(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), testenv.PostgresURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

func TestMigrationsRunOnce(t *testing.T) {
	url := testenv.PostgresURL(t)
	for range 2 {
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

// TestHoldWaitsForRelease: a hold that waits for a seat's lock while another
// transaction releases the seat must judge the seat as released, not as it was
// when the hold's statement began.
func TestHoldWaitsForRelease(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	show := storetest.NewShowSpec(1, 1)
	if _, err := s.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	seat := show.Seats[0].ID
	if _, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "alice", SeatIDs: []string{seat}, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `UPDATE seats SET status = 'available', hold_token = NULL, holder = NULL,
		hold_expires_at = NULL WHERE id = $1`, seat); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "bob", SeatIDs: []string{seat}, TTL: time.Minute})
		done <- err
	}()
	// Wait until bob's hold is blocked on the seat's lock, then let go.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err == nil && waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's hold never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("bob's hold after the release committed: got %v, want success", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storetest.Store { return MustOpen(b) })
}

// TestShowsAnalyzed: creating a show brings the seats' statistics up to date
// soon after, so that the sessions' plans (made once each) fit the table.
func TestShowsAnalyzed(t *testing.T) {
	s, conn := openWithConn(t)
	if _, err := s.CreateShow(t.Context(), storetest.NewShowSpec(2, 10)); err != nil {
		t.Fatal(err)
	}
	awaitTrue(t, conn, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'seats'`,
		"seats analyzed after a show was created", 10*time.Second)
}

// TestGrownTableAnalyzed: a table that outgrows its statistics is analyzed
// by the store, well before autovacuum would (turned off for it here), so
// that the sessions' plans fit its size: receipts, made on a young table,
// read the whole of it for every batch's answers.
func TestGrownTableAnalyzed(t *testing.T) {
	_, conn := openWithConn(t)
	if _, err := conn.Exec(t.Context(), `ALTER TABLE receipts SET (autovacuum_enabled = off)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `INSERT INTO receipts (scope, key, fingerprint, response, created_at, expires_at)
		SELECT 'test', i::text, '', '', now(), now() + interval '1 hour' FROM generate_series(1, 5000) AS i`); err != nil {
		t.Fatal(err)
	}
	awaitTrue(t, conn, `SELECT reltuples >= 5000 FROM pg_class WHERE oid = 'receipts'::regclass`,
		"statistics of the 5000 receipts written", 20*time.Second)
}

// awaitTrue polls query, which reads one boolean, until it is true, and fails
// the test if it is not within the given time.
func awaitTrue(t *testing.T, conn *pgx.Conn, query, what string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var ok bool
		err := conn.QueryRow(t.Context(), query).Scan(&ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s (last error: %v)", what, within, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// TestCloseEndsAnalyze: the ANALYZE that follows a show's creation belongs to
// the store: Close stops it, even one stuck behind a lock, and waits for it.
func TestCloseEndsAnalyze(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	// Another session holds a lock ANALYZE must wait for.
	locker, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := s.CreateShow(t.Context(), storetest.NewShowSpec(1, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE seats IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	// Wait until the ANALYZE is waiting for the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		// The activity view keeps one snapshot a transaction; locker is in one.
		if _, err := tx.Exec(t.Context(), "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		if err := locker.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE query LIKE 'ANALYZE%' AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ANALYZE waited for the lock within 10s of the show's creation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s while its ANALYZE waited for a lock")
	}
	if stacks := goroutines(); strings.Contains(stacks, "postgres.(*Store).analyze") {
		t.Errorf("a goroutine of the ANALYZE outlived Close:\n%s", stacks)
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestKeepSecretRace: instances starting together on a fresh database all
// keep the one secret the first of them stored.
func TestKeepSecretRace(t *testing.T) {
	url := testenv.PostgresURL(t)
	const n = 8
	stores := make([]*postgres.Store, n)
	for i := range stores {
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { got[i], errs[i] = s.KeepSecret(t.Context(), "race", []byte{byte(i)}) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || string(got[i]) != string(got[0]) {
			t.Errorf("instance %d: got (%v, %v), want the first instance's secret %v", i, got[i], errs[i], got[0])
		}
	}
}
