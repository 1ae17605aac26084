// Package expiry returns lapsed holds' seats to sale: at once when an expiry
// notice arrives (an in-process timer, or a Redis keyspace event), and by a
// periodic sweep that catches whatever notices were lost. Correctness never
// waits for it: every read and write already treats a lapsed hold as gone.
package expiry

import (
	"context"
	"log/slog"
	"time"

	"seatmanager/booking"
)

// Store frees the seats of lapsed holds, logging their events.
type Store interface {
	// ReleaseHold frees a hold's seats if it has lapsed; if it has not, the
	// Lapse says until when it lives.
	ReleaseHold(ctx context.Context, token string) (booking.Lapse, error)
	// ReleaseLapsed frees up to limit seats of any lapsed holds.
	ReleaseLapsed(ctx context.Context, limit int) ([]booking.Lapse, error)
}

// Worker releases lapsed holds. Several instances may run one each on a shared
// database: releases are conditional, so each lapse is released once.
type Worker struct {
	Store Store
	// SweepInterval is the time between sweeps; zero turns sweeping off,
	// leaving the notices alone (tests of the fast paths do that).
	SweepInterval time.Duration
	// Batch is how many seats one sweep statement frees. Default 500.
	Batch int
	// OnRelease observes every release. Optional.
	OnRelease booking.ReleaseFunc
	Logger    *slog.Logger
	// Retry schedules a notice again when one came before its hold lapsed by
	// the database clock (clocks of Redis and the database differ a little).
	// Optional; without it, the sweep takes over.
	Retry booking.Scheduler
}

// Release frees hold token if it has lapsed, as notified by path.
func (w *Worker) Release(ctx context.Context, token, path string) {
	lapse, err := w.Store.ReleaseHold(ctx, token)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			w.logger().Warn("release lapsed hold", "token", token, "path", path, "err", err)
		}
	case len(lapse.SeatIDs) > 0:
		w.observe(path, lapse)
	case !lapse.LiveUntil.IsZero() && w.Retry != nil:
		if err := w.Retry.Schedule(ctx, booking.Hold{Token: token, ExpiresAt: lapse.LiveUntil}); err != nil {
			w.logger().Warn("reschedule early expiry notice", "token", token, "err", err)
		}
	}
}

// Sweep frees every seat whose hold has lapsed, a batch at a time, and reports
// how many seats it freed.
func (w *Worker) Sweep(ctx context.Context) (int, error) {
	batch := w.Batch
	if batch <= 0 {
		batch = 500
	}
	freed := 0
	for {
		lapses, err := w.Store.ReleaseLapsed(ctx, batch)
		n := 0
		for _, l := range lapses {
			n += len(l.SeatIDs)
			w.observe(booking.ReleasedBySweep, l)
		}
		freed += n
		if err != nil || n < batch {
			return freed, err
		}
	}
}

// Run sweeps at start and every SweepInterval until ctx is done. With sweeping
// off it only waits for ctx.
func (w *Worker) Run(ctx context.Context) error {
	if w.SweepInterval <= 0 {
		<-ctx.Done()
		return nil
	}
	ticker := time.NewTicker(w.SweepInterval)
	defer ticker.Stop()
	for {
		if n, err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.logger().Warn("sweep lapsed holds", "err", err)
		} else if n > 0 {
			w.logger().Debug("swept lapsed holds", "seats", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (w *Worker) observe(path string, l booking.Lapse) {
	if w.OnRelease != nil {
		w.OnRelease(path, len(l.SeatIDs), l.ReleasedAt.Sub(l.ExpiredAt))
	}
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}
