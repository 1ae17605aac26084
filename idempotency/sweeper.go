package idempotency

import (
	"context"
	"log/slog"
	"time"
)

// Sweeper deletes receipts past their TTL, so that the table holds about one
// TTL's worth of them. Reads already ignore expired receipts; sweeping only
// reclaims space, so it runs rarely and in small batches.
type Sweeper struct {
	Store interface {
		SweepReceipts(ctx context.Context, limit int) (int, error)
	}
	Interval time.Duration // between sweeps; default 1m
	Batch    int           // receipts deleted per statement; default 1000
	Logger   *slog.Logger
}

// Run sweeps at start and then every Interval until ctx is done.
func (s *Sweeper) Run(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep receipts", "err", err)
		} else if n > 0 {
			log.Debug("swept receipts", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Sweep deletes every expired receipt, a batch at a time, and reports how many.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	batch := s.Batch
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		n, err := s.Store.SweepReceipts(ctx, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
