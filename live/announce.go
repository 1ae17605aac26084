package live

import (
	"context"
	"log/slog"
	"time"
)

// Remote carries change notices to the other instances: Redis pub/sub, or
// PostgreSQL NOTIFY. Notices only wake readers; one that is lost delays the
// other instances' viewers until their next poll, and loses nothing.
type Remote interface {
	Publish(ctx context.Context, showIDs []string) error
}

// Announcer tells of changed shows: this instance's hub at once, and the
// others through Remote, in the background.
type Announcer struct {
	hub    *Hub
	remote Remote // nil: one instance, nothing to tell
	queue  chan string
	log    *slog.Logger
}

// NewAnnouncer returns an announcer to hub and, if not nil, remote.
func NewAnnouncer(hub *Hub, remote Remote, log *slog.Logger) *Announcer {
	if log == nil {
		log = slog.Default()
	}
	return &Announcer{hub: hub, remote: remote, queue: make(chan string, 4096), log: log}
}

// Changed tells of a show whose seats changed. It never blocks: with the
// queue to the other instances full, their poll finds the change.
func (a *Announcer) Changed(showID string) {
	a.hub.Wake(showID)
	if a.remote == nil {
		return
	}
	select {
	case a.queue <- showID:
	default:
	}
}

// Run publishes the queued notices until ctx ends, each show once per batch:
// whatever queued while the last batch was sent.
func (a *Announcer) Run(ctx context.Context) error {
	if a.remote == nil {
		<-ctx.Done()
		return nil
	}
	for {
		var first string
		select {
		case first = <-a.queue:
		case <-ctx.Done():
			return nil
		}
		shows := []string{first}
		seen := map[string]bool{first: true}
	gather:
		for len(shows) < 256 {
			select {
			case s := <-a.queue:
				if !seen[s] {
					seen[s] = true
					shows = append(shows, s)
				}
			default:
				break gather
			}
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := a.remote.Publish(pctx, shows); err != nil && ctx.Err() == nil {
			a.log.Debug("publish seat changes to the other instances", "shows", len(shows), "err", err)
		}
		cancel()
	}
}
