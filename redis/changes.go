package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// Changes carries change notices between seatd instances over Redis pub/sub:
// each instance publishes the shows it changed, and every instance's
// listener wakes its live readers. A notice carries only a show id; the
// readers read the event log themselves.
type Changes struct {
	Client  goredis.UniversalClient
	Channel string // e.g. prefix + "changes"
}

// Publish sends one notice per show, in one round trip.
func (c Changes) Publish(ctx context.Context, showIDs []string) error {
	_, err := c.Client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range showIDs {
			p.Publish(ctx, c.Channel, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish changes: %w", err)
	}
	return nil
}

// Listen calls wake with each show another instance (or this one) changed,
// until ctx ends. go-redis reconnects and resubscribes by itself; notices that
// fall into a disconnection are lost, and the readers' poll finds those
// changes.
func (c Changes) Listen(ctx context.Context, wake func(showID string)) error {
	return subscribe(ctx, c.Client, c.Channel, wake)
}
