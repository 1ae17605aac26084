package idempotency

import (
	"context"
	"errors"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/batch"
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

// newRefusals returns the group commit of refusals' receipts, kept for ttl.
func newRefusals(store BatchStore, ttl time.Duration) *batch.Queue[booking.Receipt, booking.Receipt] {
	return batch.New(batch.Config[booking.Receipt, booking.Receipt]{
		Max: batchMax,
		Run: func(ctx context.Context, rs []booking.Receipt) []batch.Result[booking.Receipt] {
			stood, err := store.SaveReceipts(ctx, rs, ttl)
			out := make([]batch.Result[booking.Receipt], len(rs))
			for i := range out {
				if err != nil {
					out[i].Err = err
				} else {
					out[i].Value = stood[i]
				}
			}
			return out
		},
	})
}

// saveRefusal stores r, a refusal's answer, unless its key has a receipt, and
// returns the one that stands. It joins the next group; once the middleware
// is closed, it is written alone.
func (m *Middleware) saveRefusal(ctx context.Context, r booking.Receipt) (booking.Receipt, error) {
	if m.refusals != nil {
		stood, err := m.refusals.Do(ctx, r)
		if !errors.Is(err, batch.ErrClosed) {
			return stood, err
		}
	}
	return m.cfg.Receipts.SaveReceipt(ctx, r, m.cfg.RefusalTTL)
}
