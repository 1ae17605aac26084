package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
	"seatmanager/internal/testenv"
	"seatmanager/postgres"
	"seatmanager/storetest"
)

// The tests below fire many changes at once, so that they share batches, and
// check the outcome in the database itself.

func keyed(scope, key string) *booking.Idempotent {
	return &booking.Idempotent{Scope: scope, Key: key, Fingerprint: "fp-" + key, TTL: time.Hour,
		Render: func(result any) ([]byte, error) { return []byte(fmt.Sprintf("%T", result)), nil }}
}

// openWithConn opens a store and a plain connection to its database.
func openWithConn(t *testing.T) (*postgres.Store, *pgx.Conn) {
	t.Helper()
	url := testenv.PostgresURL(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return s, conn
}

// TestBatchedChanges holds every seat of three shows at once, then books half
// and releases the other half at once, and checks every row the batches wrote:
// seats, holds, bookings, receipts and each show's gapless event log.
func TestBatchedChanges(t *testing.T) {
	s, conn := openWithConn(t)
	ctx := t.Context()
	type seat struct{ show, id, user, token string }
	var seats []seat
	for range 3 {
		show := storetest.NewShowSpec(2, 10)
		if _, err := s.CreateShow(ctx, show); err != nil {
			t.Fatal(err)
		}
		for i, st := range show.Seats {
			seats = append(seats, seat{show: show.ID, id: st.ID, user: fmt.Sprintf("user-%d", i)})
		}
	}
	run := func(what string, fn func(i int, st *seat) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(seats))
		for i := range seats {
			wg.Go(func() { errs[i] = fn(i, &seats[i]) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("hold", func(i int, st *seat) error {
		p := booking.HoldParams{Token: booking.NewID(), ShowID: st.show, UserID: st.user, SeatIDs: []string{st.id}, TTL: time.Minute}
		if i%2 == 0 {
			p.Idempotent = keyed(st.user, "hold-"+st.id)
		}
		h, err := s.Hold(ctx, p)
		st.token = h.Token
		return err
	})
	run("book or release", func(i int, st *seat) error {
		if i%2 == 0 {
			_, err := s.Book(ctx, booking.BookParams{BookingID: booking.NewID(), ShowID: st.show, UserID: st.user,
				HoldToken: st.token, SeatIDs: []string{st.id}, Idempotent: keyed(st.user, "book-"+st.id)})
			return err
		}
		_, err := s.Release(ctx, booking.ReleaseParams{ShowID: st.show, UserID: st.user, HoldToken: st.token,
			SeatIDs: []string{st.id}, Idempotent: keyed(st.user, "release-"+st.id)})
		return err
	})

	var booked, available, holds, sales, answered, unanswered int
	err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM seats WHERE status = 'booked'),
		(SELECT count(*) FROM seats WHERE status = 'available' AND hold_token IS NULL),
		(SELECT count(*) FROM holds),
		(SELECT count(*) FROM bookings b JOIN seats s ON s.id = b.seat_id AND s.booking_id = b.booking_id),
		(SELECT count(*) FROM receipts WHERE response <> ''),
		(SELECT count(*) FROM receipts WHERE response = '')`).Scan(&booked, &available, &holds, &sales, &answered, &unanswered)
	if err != nil {
		t.Fatal(err)
	}
	n := len(seats)
	if booked != n/2 || available != n/2 || holds != n || sales != n/2 || answered != n/2+n || unanswered != 0 {
		t.Errorf("after %d holds, then %d books and %d releases: %d booked, %d available, %d holds, %d sales, %d receipts answered, %d not; want %d, %d, %d, %d, %d, 0",
			n, n/2, n/2, booked, available, holds, sales, answered, unanswered, n/2, n/2, n, n/2, n/2+n)
	}
	rows, err := conn.Query(ctx, `SELECT sh.seq, count(e.seq), coalesce(min(e.seq), 0), coalesce(max(e.seq), 0)
		FROM shows sh LEFT JOIN seat_events e ON e.show_id = sh.id GROUP BY sh.id, sh.seq`)
	if err != nil {
		t.Fatal(err)
	}
	var seq, count, lo, hi int64
	_, err = pgx.ForEachRow(rows, []any{&seq, &count, &lo, &hi}, func() error {
		// Two events per seat: held, then booked or available.
		if count != 40 || lo != 1 || hi != count || seq != count {
			t.Errorf("a show's log: %d events numbered %d..%d, seq %d; want 40 numbered 1..40, seq 40", count, lo, hi, seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBatchedDuplicateKeys sends one key with many holds at once: one hold
// takes effect, the others are duplicates, and one answered receipt is left.
func TestBatchedDuplicateKeys(t *testing.T) {
	s, conn := openWithConn(t)
	ctx := t.Context()
	show := storetest.NewShowSpec(2, 10)
	if _, err := s.CreateShow(ctx, show); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(show.Seats))
	for i, st := range show.Seats {
		wg.Go(func() {
			_, errs[i] = s.Hold(ctx, booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "alice",
				SeatIDs: []string{st.ID}, TTL: time.Minute, Idempotent: keyed("alice", "one key")})
		})
	}
	wg.Wait()
	var ok, dup int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, booking.ErrDuplicateRequest):
			dup++
		default:
			t.Errorf("hold under a shared key: got %v, want success or a duplicate", err)
		}
	}
	var held, receipts int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM seats WHERE status = 'held'),
		(SELECT count(*) FROM receipts WHERE response <> '')`).Scan(&held, &receipts); err != nil {
		t.Fatal(err)
	}
	if ok != 1 || dup != len(show.Seats)-1 || held != 1 || receipts != 1 {
		t.Errorf("%d holds under one key: %d succeeded, %d duplicates, %d seats held, %d receipts; want 1, %d, 1, 1",
			len(show.Seats), ok, dup, held, receipts, len(show.Seats)-1)
	}
}

// TestBatchFailureIsolated makes one change of a crowd fail in the database
// (two holds share a token, which the holds table refuses): the changes
// batched with it are written again alone and succeed, and the failing one
// leaves nothing behind.
func TestBatchFailureIsolated(t *testing.T) {
	s, conn := openWithConn(t)
	ctx := t.Context()
	show := storetest.NewShowSpec(2, 10)
	if _, err := s.CreateShow(ctx, show); err != nil {
		t.Fatal(err)
	}
	shared := booking.NewID()
	var wg sync.WaitGroup
	errs := make([]error, len(show.Seats))
	for i, st := range show.Seats {
		token := booking.NewID()
		if i < 2 {
			token = shared
		}
		wg.Go(func() {
			_, errs[i] = s.Hold(ctx, booking.HoldParams{Token: token, ShowID: show.ID, UserID: fmt.Sprint("user-", i),
				SeatIDs: []string{st.ID}, TTL: time.Minute, Idempotent: keyed(fmt.Sprint("user-", i), "k")})
		})
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if i >= 2 {
				t.Errorf("hold %d with a token of its own: got %v, want success", i, err)
			}
		}
	}
	var held, receipts, events int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM seats WHERE status = 'held'),
		(SELECT count(*) FROM receipts), (SELECT count(*) FROM seat_events)`).Scan(&held, &receipts, &events); err != nil {
		t.Fatal(err)
	}
	want := len(show.Seats) - 1
	if failed != 1 || held != want || receipts != want || events != want {
		t.Errorf("%d holds, two sharing a token: %d failed, %d seats held, %d receipts, %d events; want 1 failed and %d of each",
			len(show.Seats), failed, held, receipts, events, want)
	}
}

// TestCloseAnswersChanges: a change asked of a closed store fails at once.
func TestCloseAnswersChanges(t *testing.T) {
	s, _ := openWithConn(t)
	show := storetest.NewShowSpec(1, 1)
	if _, err := s.CreateShow(t.Context(), show); err != nil {
		t.Fatal(err)
	}
	s.Close()
	done := make(chan error, 1)
	go func() {
		_, err := s.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: show.ID, UserID: "alice",
			SeatIDs: []string{show.Seats[0].ID}, TTL: time.Minute})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("hold on a closed store: got success, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hold on a closed store: no answer within 5s")
	}
}
