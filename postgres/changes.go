package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// changesChannel is the NOTIFY channel of seat changes.
const changesChannel = "seatd_changes"

// Changes carries change notices between seatd instances that share this
// database and no Redis: NOTIFY after each commit, LISTEN on a connection of
// its own. A notice carries only a show id; the readers read the event log.
type Changes struct {
	store *Store
	log   *slog.Logger
}

// Changes returns the store's change notices.
func (s *Store) Changes(log *slog.Logger) Changes { return Changes{store: s, log: log} }

// Publish notifies every listener of the shows, in one statement.
func (c Changes) Publish(ctx context.Context, showIDs []string) error {
	_, err := c.store.pool.Exec(ctx, "SELECT pg_notify($1, s) FROM unnest($2::text[]) AS s", changesChannel, showIDs)
	return wrap(err, "notify changes")
}

// Listen calls wake with each show changed, until ctx ends. It reconnects
// after a failure; the notices sent meanwhile are lost, and the readers' poll
// finds those changes.
func (c Changes) Listen(ctx context.Context, wake func(showID string)) error {
	for ctx.Err() == nil {
		err := c.listen(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Debug("listen for seat changes; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (c Changes) listen(ctx context.Context, wake func(showID string)) error {
	conn, err := pgx.ConnectConfig(ctx, c.store.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}
