package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestGroupCommitIsolatesFailures: transactions committed together in a group
// stay all-or-nothing one by one: a failing one leaves no trace, its neighbours
// commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 200
	errFail := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.inTx(t.Context(), func(tx *txn, now int64) error {
				if _, err := tx.ExecContext(t.Context(), `INSERT INTO shows (id, movie_title, starts_at, auditorium, created_at)
					VALUES (?, 'm', 0, 'a', ?)`, fmt.Sprint("show-", i), now); err != nil {
					return err
				}
				if i%2 == 1 {
					return errFail // after writing: its write must vanish
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := error(nil); i%2 == 1 && !errors.Is(err, errFail) || i%2 == 0 && err != want {
			t.Errorf("transaction %d: got %v", i, err)
		}
	}
	var count int
	if err := s.read.QueryRowContext(t.Context(), "SELECT count(*) FROM shows").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != n/2 {
		t.Errorf("got %d shows, want the %d of the transactions that succeeded", count, n/2)
	}
}

// TestClosedStoreRefusesWrites: after Close, a write fails instead of hanging.
func TestClosedStoreRefusesWrites(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.inTx(context.Background(), func(*txn, int64) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("got %v, want errClosed", err)
	}
	if err := s.Close(); err == nil {
		t.Error("a second Close returned nil")
	}
}

// TestDeadlinesLeaveTheWriterWorking: transactions whose deadlines pass while
// their group runs, at every moment of it, never leave the write connection
// inside a transaction: each group after them begins and commits.
func TestDeadlinesLeaveTheWriterWorking(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(ctx context.Context, id string) error {
		return s.inTx(ctx, func(tx *txn, now int64) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO shows (id, movie_title, starts_at, auditorium, created_at)
				VALUES (?, 'm', 0, 'a', ?)`, id, now)
			return err
		})
	}
	for round := range 100 {
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i*50)*time.Microsecond)
				defer cancel()
				write(ctx, fmt.Sprint("late-", round, "-", i))
			})
		}
		wg.Wait()
		if err := write(t.Context(), fmt.Sprint("after-", round)); err != nil {
			t.Fatalf("round %d: a write after writes whose deadlines passed: %v", round, err)
		}
	}
}
