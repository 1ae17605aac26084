package idempotency

import (
	"context"
	"errors"
	"time"

	"seatmanager/booking"
)

// Answers that came with no change to commit (a request refused at the seat
// gate, say) are stored before they are sent, like every answer. Under a storm,
// those writes are committed in groups: while one group is being written, the
// next gathers, and each request waits only for the group that carries its
// receipt. One write transaction serves many refused buyers, and none of them
// hears an answer its retry could not get again.

// batchMax bounds a group.
const batchMax = 500

// BatchStore stores many receipts at once.
type BatchStore interface {
	// SaveReceipts stores each receipt unless its key has one, and returns, in
	// order, the receipt that stands for each.
	SaveReceipts(ctx context.Context, rs []booking.Receipt, ttl time.Duration) ([]booking.Receipt, error)
}

// saving is a receipt waiting for its group's write.
type saving struct {
	r    booking.Receipt
	done chan saved
}

type saved struct {
	stood booking.Receipt
	err   error
}

// save stores r unless its key has a receipt, and returns the one that stands.
// With Run running it joins the next group; otherwise it is written alone.
func (m *Middleware) save(ctx context.Context, r booking.Receipt) (booking.Receipt, error) {
	s := saving{r: r, done: make(chan saved, 1)}
	m.laterMu.RLock()
	queued := false
	if m.running {
		select {
		case m.later <- s:
			queued = true
		default:
		}
	}
	m.laterMu.RUnlock()
	if !queued {
		return m.cfg.Receipts.SaveReceipt(ctx, r, m.cfg.TTL)
	}
	select {
	case res := <-s.done:
		return res.stood, res.err
	case <-ctx.Done():
		return booking.Receipt{}, ctx.Err()
	}
}

// Run writes the queued receipts, a group at a time, until ctx is done. A
// group is whatever queued while the previous one was written: under no load a
// receipt is written at once, alone; under a storm, hundreds at once.
func (m *Middleware) Run(ctx context.Context) error {
	if m.cfg.Batch == nil {
		return errors.New("idempotency: Run needs Config.Batch")
	}
	m.setRunning(true)
	group := make([]saving, 0, batchMax)
	for {
		select {
		case s := <-m.later:
			group = append(group[:0], s)
		case <-ctx.Done():
			// From here on, requests store their own answers; once no send is
			// under way, write what is queued.
			m.setRunning(false)
			for {
				select {
				case s := <-m.later:
					m.write([]saving{s})
				default:
					return nil
				}
			}
		}
	gather:
		for len(group) < batchMax {
			select {
			case s := <-m.later:
				group = append(group, s)
			default:
				break gather
			}
		}
		m.write(group)
	}
}

// write stores a group and tells each of its requests what stands. A group is
// written to the end even when Run is stopping: its requests wait for it.
func (m *Middleware) write(group []saving) {
	rs := make([]booking.Receipt, len(group))
	for i, s := range group {
		rs[i] = s.r
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaseTTL)
	defer cancel()
	stood, err := m.cfg.Batch.SaveReceipts(ctx, rs, m.cfg.TTL)
	for i, s := range group {
		if err != nil {
			s.done <- saved{err: err}
		} else {
			s.done <- saved{stood: stood[i]}
		}
	}
}

func (m *Middleware) setRunning(running bool) {
	m.laterMu.Lock()
	defer m.laterMu.Unlock()
	m.running = running
}
