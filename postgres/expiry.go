package postgres

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// releaseHoldSQL frees the seats of one hold whose expiry has passed by the
// database clock. A hold that was booked, released or extended meanwhile does
// not match: an expiry notice can never free seats that are still someone's.
// Seats another transaction has locked are skipped rather than waited for:
// several instances hear each notice, and a seat being taken over right now is
// not this notice's to free (the sweep has the last word).
const releaseHoldSQL = `
WITH locked AS MATERIALIZED (
    SELECT id, hold_expires_at FROM seats
    WHERE hold_token = $1 AND status = 'held'
    ORDER BY id
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE seats AS s
SET status = 'available', hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = s.version + 1
FROM locked
WHERE s.id = locked.id AND s.hold_token = $1 AND s.status = 'held'
  AND s.hold_expires_at <= clock_timestamp()
RETURNING s.id, s.show_id, $1::text, locked.hold_expires_at, (SELECT clock_timestamp())`

// ReleaseHold frees the seats of hold token if it has lapsed. If it has not,
// nothing changes and the Lapse says until when it lives.
func (s *Store) ReleaseHold(ctx context.Context, token string) (booking.Lapse, error) {
	var lapse booking.Lapse
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		lapses, err := releaseLapsed(ctx, tx, releaseHoldSQL, token)
		if err != nil || len(lapses) > 0 {
			if len(lapses) > 0 {
				lapse = lapses[0]
			}
			return err
		}
		var live *time.Time
		if err := tx.QueryRow(ctx, "SELECT min(hold_expires_at), clock_timestamp() FROM seats WHERE hold_token = $1 AND status = 'held'",
			token).Scan(&live, &lapse.CheckedAt); err != nil {
			return err
		}
		if live != nil && live.After(lapse.CheckedAt) {
			lapse.LiveUntil = *live
		}
		return nil
	})
	return lapse, wrap(err, "release lapsed hold")
}

// releaseLapsedSQL frees up to $1 seats whose hold has lapsed, skipping seats
// another transaction has locked: several sweepers never wait for each other,
// and a seat being booked or held right now is not theirs to touch. The seats
// are found by statement_timestamp(), which an index scan can take as its
// bound; clock_timestamp() changes while the statement runs, so with it the
// scan read every held seat, thousands under load, once a second. The UPDATE
// still judges each seat by the clock. Ordered by expiry, the partial index
// on it gives the oldest first; ordered by id, a plan could walk the primary
// key through every seat looking for held ones. SKIP LOCKED never waits, so
// the order of its locks cannot deadlock.
const releaseLapsedSQL = `
WITH lapsed AS MATERIALIZED (
    SELECT id, show_id, hold_token, hold_expires_at FROM seats
    WHERE status = 'held' AND hold_expires_at <= statement_timestamp()
    ORDER BY hold_expires_at
    LIMIT $1
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE seats AS s
SET status = 'available', hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = s.version + 1
FROM lapsed
WHERE s.id = lapsed.id AND s.status = 'held' AND s.hold_expires_at <= clock_timestamp()
RETURNING s.id, lapsed.show_id, lapsed.hold_token::text, lapsed.hold_expires_at, (SELECT clock_timestamp())`

// ReleaseLapsed frees up to limit seats whose hold lapsed, whatever hold they
// belong to: the sweep that catches what expiry notices missed.
func (s *Store) ReleaseLapsed(ctx context.Context, limit int) ([]booking.Lapse, error) {
	var lapses []booking.Lapse
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		lapses, err = releaseLapsed(ctx, tx, releaseLapsedSQL, limit)
		return err
	})
	return lapses, wrap(err, "release lapsed holds")
}

// releaseLapsed runs a statement returning (seat, show, hold, expiry, now) for
// the seats it freed, groups them by hold, and logs their events, show by show
// in id order: the show rows are the last locks taken, always in one order.
func releaseLapsed(ctx context.Context, tx pgx.Tx, query string, arg any) ([]booking.Lapse, error) {
	rows, err := tx.Query(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	var (
		seat, show, token string
		expired, at       time.Time
		byHold            = map[string]*booking.Lapse{}
		order             []string
	)
	_, err = pgx.ForEachRow(rows, []any{&seat, &show, &token, &expired, &at}, func() error {
		l, ok := byHold[token]
		if !ok {
			l = &booking.Lapse{Release: booking.Release{ShowID: show, ReleasedAt: at}, ExpiredAt: expired}
			byHold[token] = l
			order = append(order, token)
		}
		l.SeatIDs = append(l.SeatIDs, seat)
		l.HoldTokens = append(l.HoldTokens, token)
		return nil
	})
	if err != nil || len(order) == 0 {
		return nil, err
	}
	lapses := make([]booking.Lapse, len(order))
	for i, token := range order {
		lapses[i] = *byHold[token]
	}
	slices.SortFunc(lapses, func(a, b booking.Lapse) int { return strings.Compare(a.ShowID, b.ShowID) })
	b := &pgx.Batch{}
	for i := 0; i < len(lapses); {
		show := lapses[i].ShowID
		var seats, tokens []string
		for ; i < len(lapses) && lapses[i].ShowID == show; i++ {
			seats = append(seats, lapses[i].SeatIDs...)
			tokens = append(tokens, lapses[i].HoldTokens...)
		}
		queueEvents(b, show, event{status: booking.StatusAvailable, at: lapses[0].ReleasedAt}, seats, tokens)
	}
	return lapses, tx.SendBatch(ctx, b).Close()
}
