package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
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
