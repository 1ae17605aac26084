package sqlite

import (
	"context"
	"errors"
	"fmt"

	"seatmanager/internal/batch"
)

// Group commit. Every write transaction ends with an fsync (synchronous=FULL:
// nothing a client was told may be lost), and SQLite has one writer, so the
// fsync, not the work, bounds how many transactions a second it takes. The
// writer goroutine therefore runs the transactions that queued while the last
// commit was on disk together: one BEGIN IMMEDIATE, each in a savepoint of its
// own, one COMMIT. A transaction that fails is rolled back to its savepoint and
// leaves no trace; the others commit. Each caller hears the outcome once the
// COMMIT (or its failure) is known, or, if its deadline comes first, that the
// outcome is unknown. Under no load a group is one transaction and nothing
// changes. The gathering is package batch's.

// groupMax bounds a group: the longer a group, the later its first caller hears.
const groupMax = 64

// job is one transaction waiting for the writer.
type job struct {
	ctx context.Context
	fn  func(tx *txn, now int64) error
}

var errClosed = errors.New("sqlite: store closed")

// newWriter returns the queue of write transactions: one writer, which owns
// the write connection, commits them in groups.
func (s *Store) newWriter() *batch.Queue[job, struct{}] {
	// A job writes its results into its caller's variables, so its caller
	// waits for it once it runs; the group's context bounds that.
	return batch.New(batch.Config[job, struct{}]{Max: groupMax, Run: s.commitGroup, AwaitRunning: true})
}

// inTx runs fn as one write transaction, given the database clock, in the
// writer's next group. If ctx ends before the group runs, fn never runs; if it
// ends while the group runs, inTx waits for the group's outcome.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn, now int64) error) error {
	_, err := s.writer.Do(ctx, job{ctx: ctx, fn: fn})
	if errors.Is(err, batch.ErrClosed) {
		return errClosed
	}
	return err
}

// commitGroup runs a group of transactions and tells each its outcome. ctx
// is the group's, not its callers': one caller going away must not abort the
// others' commit. Nor does the group's own deadline interrupt a statement:
// the driver interrupts SQLite from another goroutine when a context ends,
// and one that fires as a statement finishes lands on the next one, a
// ROLLBACK say, which then leaves the connection inside the transaction and
// every later group failing to begin ("cannot start a transaction within a
// transaction"). A group's callers wait for it anyway (AwaitRunning); those
// whose deadline passed before their turn are skipped (runJob).
func (s *Store) commitGroup(ctx context.Context, group []job) []batch.Result[struct{}] {
	ctx = context.WithoutCancel(ctx)
	tx := &txn{prep: s.writes, group: ctx}
	errs := make([]error, len(group))
	err := func() error {
		if _, err := tx.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		now, err := s.now(ctx, tx)
		if err != nil {
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
		_, err = tx.ExecContext(ctx, "COMMIT")
		return err
	}()
	if err != nil {
		tx.ExecContext(ctx, "ROLLBACK")
		if len(group) > 1 || errs[0] == nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	results := make([]batch.Result[struct{}], len(group))
	for i := range group {
		if err != nil {
			errs[i] = err
		}
		results[i].Err = errs[i]
	}
	return results
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
