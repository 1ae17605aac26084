package idempotency

import (
	"context"
	"errors"
	"time"

	"seatmanager/booking"
)

// Answers that came with no change to commit are stored behind the response,
// many per statement: under a storm, the buyers refused at the gate would
// otherwise each wait for a write (and on SQLite an fsync) that protects
// nothing. The batch is written every flushEvery, or when it is full.
const (
	flushEvery = 20 * time.Millisecond
	batchMax   = 500
)

// BatchStore stores many receipts at once, each unless its key has one.
type BatchStore interface {
	SaveReceipts(ctx context.Context, rs []booking.Receipt, ttl time.Duration) error
}

// saveLater queues r for Run, or stores it now if Run is not running or is
// behind (the queue is full).
func (m *Middleware) saveLater(ctx context.Context, r booking.Receipt) {
	m.laterMu.RLock()
	queued := false
	if m.running {
		select {
		case m.later <- r:
			queued = true
		default:
		}
	}
	m.laterMu.RUnlock()
	if queued {
		return
	}
	if _, err := m.cfg.Receipts.SaveReceipt(ctx, r, m.cfg.TTL); err != nil {
		m.cfg.Logger.Warn("store idempotent answer", "scope", r.Scope, "err", err)
	}
}

// Run writes queued receipts in batches until ctx is done, then writes what is
// left. Without Run, receipts are written one by one as they come.
func (m *Middleware) Run(ctx context.Context) error {
	if m.cfg.Batch == nil {
		return errors.New("idempotency: Run needs Config.Batch")
	}
	m.setRunning(true)
	ticker := time.NewTicker(flushEvery)
	defer ticker.Stop()
	batch := make([]booking.Receipt, 0, batchMax)
	// A batch is written to the end even when ctx is done: its answers were sent.
	flush := func() {
		if len(batch) == 0 {
			return
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.cfg.Batch.SaveReceipts(fctx, batch, m.cfg.TTL); err != nil {
			m.cfg.Logger.Warn("store idempotent answers", "count", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case r := <-m.later:
			if batch = append(batch, r); len(batch) == batchMax {
				flush()
			}
		case <-ticker.C:
			flush()
		case <-ctx.Done():
			// From here on, requests still finishing store their own answers;
			// once no send is under way, drain what is queued.
			m.setRunning(false)
			for {
				select {
				case r := <-m.later:
					if batch = append(batch, r); len(batch) == batchMax {
						flush()
					}
				default:
					flush()
					return nil
				}
			}
		}
	}
}

func (m *Middleware) setRunning(running bool) {
	m.laterMu.Lock()
	defer m.laterMu.Unlock()
	m.running = running
}
