package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Group commit. Every write transaction ends with an fsync (synchronous=FULL:
// nothing a client was told may be lost), and SQLite has one writer, so the
// fsync, not the work, bounds how many transactions a second it takes. The
// writer goroutine therefore runs the transactions that queued while the last
// commit was on disk together: one BEGIN IMMEDIATE, each in a savepoint of its
// own, one COMMIT. A transaction that fails is rolled back to its savepoint and
// leaves no trace; the others commit. Each caller hears the outcome only once
// the COMMIT (or its failure) is known. Under no load a group is one
// transaction and nothing changes.

// groupMax bounds a group: the longer a group, the later its first caller hears.
const groupMax = 64

// job is one transaction waiting for the writer.
type job struct {
	ctx  context.Context
	fn   func(tx *txn, now int64) error
	done chan error
}

var errClosed = errors.New("sqlite: store closed")

// inTx runs fn as one write transaction, given the database clock, in the
// writer's next group.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn, now int64) error) error {
	j := job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.jobs <- j:
	case <-s.stopped:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the outcome is awaited even if ctx ends: the transaction
	// may be committing, and the caller must not mistake a commit for nothing.
	return <-j.done
}

// writeLoop is the writer: it owns the write connection until stop closes.
func (s *Store) writeLoop() {
	defer close(s.stopped)
	group := make([]job, 0, groupMax)
	for {
		select {
		case j := <-s.jobs:
			group = append(group[:0], j)
		case <-s.stop:
			return
		}
	gather:
		for len(group) < groupMax {
			select {
			case j := <-s.jobs:
				group = append(group, j)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup runs a group of transactions and tells each its outcome.
func (s *Store) commitGroup(group []job) {
	// The group's statements are not its callers' to cancel: one caller going
	// away must not abort the others' commit.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx := &txn{prep: s.writes}
	errs := make([]error, len(group))
	err := func() error {
		if _, err := tx.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		var now int64
		if err := tx.QueryRowContext(ctx, nowSQL).Scan(&now); err != nil {
			return err
		}
		if len(group) == 1 {
			// Alone, a failing transaction is simply rolled back whole.
			if errs[0] = runJob(tx, group[0], now); errs[0] != nil {
				return errs[0]
			}
		} else {
			for i, j := range group {
				errs[i] = s.runInSavepoint(ctx, tx, j, now)
			}
		}
		_, err := tx.ExecContext(ctx, "COMMIT")
		return err
	}()
	if err != nil {
		tx.ExecContext(ctx, "ROLLBACK")
		if len(group) > 1 || errs[0] == nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	for i, j := range group {
		if err != nil {
			errs[i] = err
		}
		j.done <- errs[i]
	}
}

// runJob runs a job unless its caller left before it ran.
func runJob(tx *txn, j job, now int64) error {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	return j.fn(tx, now)
}

// runInSavepoint runs one job; if it fails, everything it did is undone.
func (s *Store) runInSavepoint(ctx context.Context, tx *txn, j job, now int64) error {
	if err := j.ctx.Err(); err != nil {
		return err // its caller left before it ran: nothing to do
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
		return err
	}
	err := runJob(tx, j, now)
	if err != nil {
		tx.ExecContext(ctx, "ROLLBACK TO job")
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE job"); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
