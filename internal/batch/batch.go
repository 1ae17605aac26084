// Package batch runs the work of many goroutines in batches: whatever queues
// while a batch is being written makes up the next one. Under no load a batch
// is a single job and nothing waits; under load, one transaction, fsync or
// round trip serves many callers, each of which hears its own outcome.
//
// The SQLite store's group commits, the PostgreSQL store's seat-change
// batches and the idempotency layer's receipts all run on it.
package batch

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed answers the jobs submitted after Close, and those still queued
// when it was called.
var ErrClosed = errors.New("batch: closed")

// Result is one job's outcome.
type Result[Out any] struct {
	Value Out
	Err   error
}

// Config says how to run batches of In.
type Config[In, Out any] struct {
	// Run runs one batch and returns one result per job, in order. Its ctx
	// ends at the latest deadline of the batch's jobs, or after Timeout.
	Run func(ctx context.Context, jobs []In) []Result[Out]
	// Max bounds the jobs of one batch. Default 64.
	Max int
	// Workers is how many batches run at once, each in a goroutine of its
	// own. Default 1.
	Workers int
	// Timeout bounds a batch whose jobs have no deadline. Default 30s.
	Timeout time.Duration
	// AwaitRunning makes a caller whose context ends while its job's batch
	// runs wait for the outcome anyway, for jobs that write into their
	// callers' variables. The batch's own context ends at the latest of its
	// jobs' deadlines, which bounds the wait.
	AwaitRunning bool
	// Exclusive, if set, names what a job must have to itself in its batch
	// (the seats it changes, say): a job naming something an earlier job of
	// the batch named waits for a later batch, so that it is judged on what
	// the earlier one committed.
	Exclusive func(job In) []string
	// Affinity, if set, names the worker's share a job belongs to: jobs of
	// one name all go to the same worker, in its next batch. For work whose
	// batches would queue behind one another anyway (a show's changes, which
	// wait for each other at its lock), one batch of them all beats several
	// in turn. Jobs of other names spread over the workers by their names'
	// hashes. Without it, any worker takes any job.
	Affinity func(job In) string
}

// Queue gathers jobs into batches and runs them. It is safe for concurrent use.
type Queue[In, Out any] struct {
	cfg Config[In, Out]
	// lanes are the workers' queues, one each with Affinity; without it,
	// every worker's is the same one.
	lanes   []chan *job[In, Out]
	seed    maphash.Seed  // of the Affinity names' hashes
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed once every worker has returned
	once    sync.Once
}

// The states of a job: a job leaves queued exactly once: taken into a batch
// by a worker, dropped by a worker because its caller's context ended, or
// withdrawn by its caller whose context ended first.
const (
	queued int32 = iota
	taken
	withdrawn
	dropped // by a worker, its caller's context having ended: it never ran
)

type job[In, Out any] struct {
	ctx   context.Context
	in    In
	state atomic.Int32
	done  chan Result[Out] // buffered: a worker never waits for a caller that left
}

// New starts the workers of a queue. Close stops them.
func New[In, Out any](cfg Config[In, Out]) *Queue[In, Out] {
	if cfg.Max <= 0 {
		cfg.Max = 64
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	q := &Queue[In, Out]{
		cfg: cfg, lanes: make([]chan *job[In, Out], cfg.Workers), seed: maphash.MakeSeed(),
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	shared := make(chan *job[In, Out], 4*cfg.Max)
	for i := range q.lanes {
		q.lanes[i] = shared
		if cfg.Affinity != nil {
			q.lanes[i] = make(chan *job[In, Out], 4*cfg.Max)
		}
	}
	var wg sync.WaitGroup
	for _, lane := range q.lanes {
		wg.Go(func() { q.work(lane) })
	}
	go func() {
		wg.Wait()
		close(q.stopped)
	}()
	return q
}

// Do runs in in one of the next batches and returns its outcome. If ctx ends
// before a batch took the job, the job never runs and Do returns ctx's error;
// if it ends while the job's batch runs, Do returns ctx's error at once,
// wrapped in an error that says the outcome is unknown (the batch may yet
// commit it).
func (q *Queue[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	var zero Out
	j := &job[In, Out]{ctx: ctx, in: in, done: make(chan Result[Out], 1)}
	select {
	case q.lane(in) <- j:
	case <-q.stop:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case r := <-j.done:
		return r.Value, r.Err
	case <-ctx.Done():
		if j.state.CompareAndSwap(queued, withdrawn) || j.state.Load() == dropped {
			return zero, ctx.Err()
		}
		if q.cfg.AwaitRunning {
			return q.await(j)
		}
		select {
		case r := <-j.done: // it finished just now
			return r.Value, r.Err
		default:
			return zero, &UnknownError{Err: ctx.Err()}
		}
	case <-q.stop:
		if j.state.CompareAndSwap(queued, withdrawn) {
			return zero, ErrClosed
		}
		// Its batch is running, and Close waits for it.
		return q.await(j)
	}
}

// lane is the queue of the worker that runs in.
func (q *Queue[In, Out]) lane(in In) chan<- *job[In, Out] {
	if q.cfg.Affinity == nil || len(q.lanes) == 1 {
		return q.lanes[0]
	}
	return q.lanes[maphash.String(q.seed, q.cfg.Affinity(in))%uint64(len(q.lanes))]
}

// await waits for a taken job's outcome.
func (q *Queue[In, Out]) await(j *job[In, Out]) (Out, error) {
	select {
	case r := <-j.done:
		return r.Value, r.Err
	case <-q.stopped:
		select { // every worker has returned: the job was answered, or never taken
		case r := <-j.done:
			return r.Value, r.Err
		default:
			var zero Out
			return zero, ErrClosed
		}
	}
}

// UnknownError is what a caller hears whose context ended while its job's
// batch was running: the job may or may not take effect.
type UnknownError struct{ Err error }

func (e *UnknownError) Error() string { return "outcome unknown: " + e.Err.Error() }

// Unwrap lets errors.Is see the context's error.
func (e *UnknownError) Unwrap() error { return e.Err }

// Close stops taking jobs, lets the batches being run finish, answers every
// job still queued with ErrClosed, and returns once the workers have stopped.
func (q *Queue[In, Out]) Close() {
	q.once.Do(func() { close(q.stop) })
	<-q.stopped
}

// work is one worker: it gathers what is queued in its lane into a batch,
// runs it, and starts again.
func (q *Queue[In, Out]) work(jobs chan *job[In, Out]) {
	var later []*job[In, Out] // dequeued, but sharing something with a batch
	for {
		select {
		case <-q.stop:
			q.refuse(jobs, later)
			return
		default:
		}
		b := batchOf[In, Out]{max: q.cfg.Max, exclusive: q.cfg.Exclusive}
		held := later
		later = nil
		for _, j := range held {
			// A job whose caller stopped waiting must not hold its seats
			// from the others.
			if j.ctx.Err() != nil {
				q.drop(j)
				continue
			}
			if !b.add(j) {
				later = append(later, j)
			}
		}
		if b.empty() {
			select {
			case j := <-jobs:
				if !b.add(j) {
					later = append(later, j)
				}
			case <-q.stop:
				q.refuse(jobs, later)
				return
			}
		}
		// At most Max jobs are taken off the queue for one batch, whether they
		// join it or wait: the queue's bound still holds callers back.
	gather:
		for taken := 0; !b.full() && taken < q.cfg.Max; taken++ {
			select {
			case j := <-jobs:
				if !b.add(j) {
					later = append(later, j)
				}
			default:
				break gather
			}
		}
		q.run(b.jobs)
	}
}

// run takes the jobs whose callers still wait and runs them as one batch.
func (q *Queue[In, Out]) run(jobs []*job[In, Out]) {
	live := jobs[:0]
	var deadline time.Time
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			q.drop(j)
			continue
		}
		if !j.state.CompareAndSwap(queued, taken) {
			continue // withdrawn
		}
		live = append(live, j)
		d, ok := j.ctx.Deadline()
		if !ok {
			d = time.Now().Add(q.cfg.Timeout)
		}
		deadline = latest(deadline, d)
	}
	if len(live) == 0 {
		return
	}
	// The batch is not its callers' to cancel: one leaving must not abort
	// the others' commit. It ends when the last of them would stop waiting.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ins := make([]In, len(live))
	for i, j := range live {
		ins[i] = j.in
	}
	results := q.cfg.Run(ctx, ins)
	for i, j := range live {
		j.done <- results[i]
	}
}

// drop answers a job whose caller's context ended, unless it withdrew.
func (q *Queue[In, Out]) drop(j *job[In, Out]) {
	if j.state.CompareAndSwap(queued, dropped) {
		j.done <- Result[Out]{Err: j.ctx.Err()}
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// refuse answers jobs, and every job still queued in the lane, with ErrClosed.
func (q *Queue[In, Out]) refuse(lane chan *job[In, Out], jobs []*job[In, Out]) {
	for _, j := range jobs {
		j.done <- Result[Out]{Err: ErrClosed}
	}
	for {
		select {
		case j := <-lane:
			j.done <- Result[Out]{Err: ErrClosed}
		default:
			return
		}
	}
}

// batchOf gathers jobs, none of which names what another already named.
type batchOf[In, Out any] struct {
	max       int
	exclusive func(In) []string
	jobs      []*job[In, Out]
	named     map[string]bool
}

func (b *batchOf[In, Out]) empty() bool { return len(b.jobs) == 0 }
func (b *batchOf[In, Out]) full() bool  { return len(b.jobs) >= b.max }

// add adds j unless the batch is full or has something j names.
func (b *batchOf[In, Out]) add(j *job[In, Out]) bool {
	if b.full() {
		return false
	}
	if b.exclusive != nil {
		names := b.exclusive(j.in)
		for _, n := range names {
			if b.named[n] {
				return false
			}
		}
		if b.named == nil {
			b.named = make(map[string]bool)
		}
		for _, n := range names {
			b.named[n] = true
		}
	}
	b.jobs = append(b.jobs, j)
	return true
}
