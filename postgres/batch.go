package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/batch"
)

// Seat changes are written in batches, as the SQLite store groups its commits:
// the changes that arrive while a batch is being written make up the next one.
// A batch is one transaction of two round trips, however many changes it has:
//
//  1. BEGIN; claim the receipts of the keyed changes; lock each capped holder
//     (a user and show whose held seats are capped) and count what it holds;
//     lock every seat of every change in seat-id order and read the database
//     clock after the last lock.
//  2. Go judges each change on the rows as locked, by that clock. Then a few
//     small statements write every accepted change (seats, holds, bookings,
//     the receipts' answers; the claims of refused changes deleted), the last
//     locks the shows it changes in id order and logs the events numbered per
//     show, and the batch commits. If no change was accepted, it rolls back.
//     A show's batches wait for each other at that last lock only: for one
//     another's commits, not for one another's writes. On one instance a
//     show's changes go to one writer (batch.Config.Affinity), so they make
//     one batch at a time, as large as what queued during the last; batches
//     of other instances still queue at the lock.
//
// A batch spreads the statements, round trips and commit of a change over all
// its changes; the rows each change writes stay its own. Measured under steady
// load on two cores: a quarter less database CPU per change, 20–40 % more
// changes per second (docs/BENCHMARKS.md).
//
// No seat and no Idempotency-Key is in two changes of one batch: a change that
// shares one with an earlier change waits for the next batch, so every change
// is judged on committed rows and each seat is written once. Every batch takes
// its locks in one order (receipts by key, then the capped holders of its holds
// by their lock keys, then seats by id, then shows by id),
// as the sweeper and extensions do (seats, then shows) and the refusals' group
// commits (receipts by key), so none of them deadlock one another. If a batch
// fails where it cannot have committed, it runs again (see writeBatch); if the
// connection failed while COMMIT may have gone through, every change of the
// batch hears the error, whose outcome is unknown, and nothing runs again.
// The gathering is package batch's.

// maxBatch bounds the changes of one batch.
const maxBatch = 64

// batchTimeout bounds the transaction of a batch whose changes have no
// deadline; otherwise it ends when the last of them stops waiting.
const batchTimeout = 30 * time.Second

// errClosed answers the changes that arrive after Close.
var errClosed = errors.New("store closed")

// startBatches starts n batch writers, each writing one batch at a time on a
// connection of its own.
func (s *Store) startBatches(n int) {
	s.batches = batch.New(batch.Config[change, any]{
		Max: maxBatch, Workers: n, Timeout: batchTimeout, Run: s.writeBatch,
		// A show's batches wait for each other at its lock, through each
		// one's commit: its changes make one batch at a time, as large as
		// what queued meanwhile, rather than several in turn.
		Affinity: func(c change) string { return c.showID() },
		// A second change of a seat, or a second attempt of a key, waits for
		// the next batch: it is judged on what the first committed.
		Exclusive: func(c change) []string {
			names := slices.Clip(c.seatIDs())
			if idem := c.idempotent(); idem != nil {
				names = append(names, "key\x00"+idem.Scope+"\x00"+idem.Key)
			}
			// Two capped holds of one user and show are judged in
			// turn: the second counts the seats the first held.
			if hc, ok := c.(holdChange); ok {
				if h, ok := hc.capped(); ok {
					names = append(names, "holder\x00"+h.user+"\x00"+h.show)
				}
			}
			return names
		},
	})
}

// stopBatches lets the writers finish their batches and answers the changes
// still queued with errClosed.
func (s *Store) stopBatches() { s.batches.Close() }

// submit queues c for a batch and waits for the batch's outcome, or for ctx:
// a change that was never written answers ctx's error, one whose batch was
// being written says that its outcome is unknown.
func (s *Store) submit(ctx context.Context, c change) (any, error) {
	res, err := s.batches.Do(ctx, c)
	if errors.Is(err, batch.ErrClosed) {
		return nil, errClosed
	}
	if _, ok := errors.AsType[*batch.UnknownError](err); ok {
		return nil, fmt.Errorf("%w: %w", booking.ErrOutcomeUnknown, err)
	}
	return res, err
}

// writeBatch writes changes and answers each. A batch that failed where it
// cannot have committed runs again: on a fresh connection once, if its
// connection was lost (a database restart leaves every pooled one dead), or
// else each change alone, so that one change's error is its own.
func (s *Store) writeBatch(ctx context.Context, changes []change) []batch.Result[any] {
	results, err := s.tryBatch(ctx, changes)
	var notCommitted *batchError
	if err != nil && errors.As(err, &notCommitted) && unavailable(err) && ctx.Err() == nil {
		// The pool pings only connections idle for a while: after a restart,
		// the next one it hands out may be dead too.
		s.pool.Reset()
		results, err = s.tryBatch(ctx, changes)
	}
	if err == nil {
		return results
	}
	if len(changes) > 1 && errors.As(err, &notCommitted) && !unavailable(err) {
		out := make([]batch.Result[any], len(changes))
		for i, c := range changes {
			out[i] = s.writeBatch(ctx, []change{c})[0]
		}
		return out
	}
	// Alone, the error is the change's own. A batch whose commit may have
	// happened (the connection failed on the way) must not run again: its
	// changes' outcome is unknown, as the error says.
	if !errors.As(err, &notCommitted) {
		err = fmt.Errorf("%w: %w", booking.ErrOutcomeUnknown, err)
	}
	out := make([]batch.Result[any], len(changes))
	for i := range out {
		out[i].Err = err
	}
	return out
}
