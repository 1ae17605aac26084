package live

import (
	"context"
	"log/slog"
	"time"
)

// Pruner deletes the events older than Retention, so that the log holds a
// bounded time of them. A live reader is never affected: it reads the newest
// events, within milliseconds of their commit; a viewer resuming from an
// older seq gets a snapshot instead.
type Pruner struct {
	Store interface {
		// PruneEvents deletes the events logged before before, and reports
		// how many.
		PruneEvents(ctx context.Context, before time.Time) (int, error)
	}
	Retention time.Duration // default 48h
	Interval  time.Duration // between prunes; default 10m
	Logger    *slog.Logger
}

// Run prunes at start and every Interval until ctx ends.
func (p *Pruner) Run(ctx context.Context) error {
	retention, interval, log := p.Retention, p.Interval, p.Logger
	if retention <= 0 {
		retention = 48 * time.Hour
	}
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	if log == nil {
		log = slog.Default()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if n, err := p.Store.PruneEvents(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			log.Warn("prune the event log", "err", err)
		} else if n > 0 {
			log.Debug("pruned the event log", "events", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
