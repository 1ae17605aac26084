package postgres

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Seat changes are written in batches, as the SQLite store groups its commits:
// the changes that arrive while a batch is being written make up the next one.
// A batch is one transaction of two round trips, however many changes it has:
//
//  1. BEGIN; claim the receipts of the keyed changes; lock every seat of every
//     change in seat-id order and read the database clock after the last lock.
//  2. Go judges each change on the rows as locked, by that clock. Then one
//     statement locks the shows it changes in id order and writes every
//     accepted change (seats, holds, bookings, events numbered per show, the
//     receipts' answers; the claims of refused changes deleted), and the batch
//     commits. If no change was accepted, it rolls back.
//
// A batch spreads the statements, round trips and commit of a change over all
// its changes; the rows each change writes stay its own. Measured under steady
// load on two cores: a quarter less database CPU per change, 20–40 % more
// changes per second (docs/BENCHMARKS.md).
//
// No seat and no Idempotency-Key is in two changes of one batch: a change that
// shares one with an earlier change waits for the next batch, so every change
// is judged on committed rows and each seat is written once. Every batch takes
// its locks in one order (receipts by key, then seats by id, then shows by id),
// as the sweeper and extensions do (seats, then shows) and the refusals' group
// commits (receipts by key), so none of them deadlock one another. If a batch
// fails where it cannot have committed, each of its changes runs again alone,
// so that one change's error is its own; if the connection failed while COMMIT
// may have gone through, every change of the batch hears the error, whose
// outcome is unknown, and nothing runs again.

// maxBatch bounds the changes of one batch.
const maxBatch = 64

// batchTimeout bounds one batch's transaction. Requests wait for their batch
// however long it takes: once a change is in a batch, only the batch's outcome
// says whether it happened.
const batchTimeout = 30 * time.Second

// errClosed answers the changes that arrive after Close.
var errClosed = errors.New("store closed")

// job is a change waiting for its batch.
type job struct {
	ctx  context.Context
	c    change
	done chan jobResult
}

type jobResult struct {
	res any
	err error
}

// batches runs the batch writers.
type batches struct {
	jobs    chan *job
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed once every writer has returned
	wg      sync.WaitGroup
	once    sync.Once
}

// startBatches starts n batch writers, each writing one batch at a time on a
// connection of its own.
func (s *Store) startBatches(n int) {
	s.batches = batches{jobs: make(chan *job, 4*maxBatch), stop: make(chan struct{}), stopped: make(chan struct{})}
	for range n {
		s.batches.wg.Go(s.writeBatches)
	}
	go func() {
		s.batches.wg.Wait()
		close(s.batches.stopped)
	}()
}

// stopBatches lets the writers finish their batches and answers the changes
// still queued with errClosed.
func (s *Store) stopBatches() {
	s.batches.once.Do(func() { close(s.batches.stop) })
	<-s.batches.stopped
}

// submit queues c for a batch and waits for the batch's outcome. A change that
// was never written answers ctx's error if ctx ended while it was queued.
func (s *Store) submit(ctx context.Context, c change) (any, error) {
	j := &job{ctx: ctx, c: c, done: make(chan jobResult, 1)}
	select {
	case s.batches.jobs <- j:
	case <-s.batches.stop:
		return nil, errClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-j.done:
		return r.res, r.err
	case <-s.batches.stopped:
		// Every writer has returned: the change was answered, or never taken.
		select {
		case r := <-j.done:
			return r.res, r.err
		default:
			return nil, errClosed
		}
	}
}

// writeBatches is one batch writer: it gathers what is queued into a batch,
// writes it, and starts again.
func (s *Store) writeBatches() {
	var later []*job // taken from the queue, but sharing seats with a batch
	for {
		select {
		case <-s.batches.stop:
			s.refuse(later)
			return
		default:
		}
		var b batchOf
		held := later
		later = nil
		for _, j := range held {
			if !b.add(j) {
				later = append(later, j)
			}
		}
		if b.empty() {
			select {
			case j := <-s.batches.jobs:
				b.add(j)
			case <-s.batches.stop:
				s.refuse(later)
				return
			}
		}
	gather:
		for !b.full() {
			select {
			case j := <-s.batches.jobs:
				if !b.add(j) {
					later = append(later, j)
				}
			default:
				break gather
			}
		}
		s.writeBatch(b.jobs)
	}
}

// refuse answers jobs, and every job still queued, with errClosed.
func (s *Store) refuse(jobs []*job) {
	for _, j := range jobs {
		j.done <- jobResult{err: errClosed}
	}
	for {
		select {
		case j := <-s.batches.jobs:
			j.done <- jobResult{err: errClosed}
		default:
			return
		}
	}
}

// batchOf gathers jobs that share no seat and no Idempotency-Key: a second
// attempt of a key waits for the first's outcome, as it would behind its claim.
type batchOf struct {
	jobs  []*job
	seats map[string]bool
	keys  map[receiptKey]bool
}

func (b *batchOf) empty() bool { return len(b.jobs) == 0 }
func (b *batchOf) full() bool  { return len(b.jobs) >= maxBatch }

// add adds j unless the batch is full or has one of j's seats.
func (b *batchOf) add(j *job) bool {
	if b.full() {
		return false
	}
	if b.seats == nil {
		b.seats, b.keys = make(map[string]bool), make(map[receiptKey]bool)
	}
	var k receiptKey
	idem := j.c.idempotent()
	if idem != nil {
		if k = (receiptKey{idem.Scope, idem.Key}); b.keys[k] {
			return false
		}
	}
	for _, id := range j.c.seatIDs() {
		if b.seats[id] {
			return false
		}
	}
	for _, id := range j.c.seatIDs() {
		b.seats[id] = true
	}
	if idem != nil {
		b.keys[k] = true
	}
	b.jobs = append(b.jobs, j)
	return true
}

// writeBatch writes jobs and answers each. If the batch fails, each job is
// written again alone, and answers its own outcome.
func (s *Store) writeBatch(jobs []*job) {
	live := jobs[:0:0]
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	results, err := s.tryBatch(live)
	if err != nil {
		var notCommitted *batchError
		if len(live) == 1 || !errors.As(err, &notCommitted) {
			// Alone, the error is the change's own. A batch whose commit may
			// have happened (the connection failed on the way) must not run
			// again: its changes' outcome is unknown, as the error says.
			for _, j := range live {
				j.done <- jobResult{err: err}
			}
			return
		}
		for _, j := range live {
			s.writeBatch([]*job{j})
		}
		return
	}
	for i, j := range live {
		j.done <- results[i]
	}
}
