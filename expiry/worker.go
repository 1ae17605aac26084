// Package expiry returns lapsed holds' seats to sale: at once when an expiry
// notice arrives (an in-process timer, or a Redis keyspace event), and by a
// periodic sweep that catches whatever notices were lost. Correctness never
// waits for it: every read and write already treats a lapsed hold as gone.
package expiry

import (
	"context"
	"log/slog"
	"sync"
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
	// OnChange is told of each show whose seats a release freed. Optional.
	OnChange func(showID string)
	Logger   *slog.Logger
	// Retry schedules a notice again when one came before its hold lapsed by
	// the database clock (clocks of Redis and the database differ a little).
	// Optional; without it, the sweep takes over.
	Retry booking.Scheduler
	// Releasers is how many notices are acted on at once. Default 8: a burst
	// of expiries is a burst of transactions, which one at a time would each
	// wait for all the others.
	Releasers int

	once    sync.Once
	notices chan notice
}

type notice struct{ token, path string }

// minRetry keeps a notice that came early from coming back at once, whatever
// the clocks say.
const minRetry = 10 * time.Millisecond

// Notify asks for hold token to be released if it has lapsed, by one of the
// releasers Run starts; it does not wait. If they are that far behind, the
// notice is dropped: the sweep releases the hold.
func (w *Worker) Notify(token, path string) {
	select {
	case w.queue() <- notice{token, path}:
	default:
		w.logger().Debug("expiry notice dropped; the sweep will release the hold", "token", token)
	}
}

func (w *Worker) queue() chan notice {
	w.once.Do(func() { w.notices = make(chan notice, 10000) })
	return w.notices
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
		// Come back when the database's clock will say it lapsed, measured
		// on the database's clock: this host's may run ahead of it.
		wait := max(lapse.LiveUntil.Sub(lapse.CheckedAt), minRetry)
		if err := w.Retry.Schedule(ctx, booking.Hold{Token: token, ExpiresAt: time.Now().Add(wait)}); err != nil {
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

// Run acts on notices and sweeps, at start and every SweepInterval, until ctx
// is done. With sweeping off it only acts on notices.
func (w *Worker) Run(ctx context.Context) error {
	releasers := w.Releasers
	if releasers <= 0 {
		releasers = 8
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for range releasers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case n := <-w.queue():
					w.Release(ctx, n.token, n.path)
				}
			}
		})
	}
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
	if w.OnChange != nil {
		w.OnChange(l.ShowID)
	}
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}
