package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"seatmanager/booking"
)

// ReleaseHold frees the seats of hold token if it has lapsed by the database
// clock. If it has not, nothing changes and the Lapse says until when it lives;
// a hold booked or released meanwhile has no seats left to free.
func (s *Store) ReleaseHold(ctx context.Context, token string) (booking.Lapse, error) {
	var lapse booking.Lapse
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		lapses, err := releaseLapsed(ctx, tx, now, `
			SELECT id, show_id, hold_token, hold_expires_at FROM seats
			WHERE hold_token = ? AND status = 'held' AND hold_expires_at <= ?`, token, now)
		if err != nil || len(lapses) > 0 {
			if len(lapses) > 0 {
				lapse = lapses[0]
			}
			return err
		}
		var live sql.NullInt64
		err = tx.QueryRowContext(ctx, "SELECT min(hold_expires_at) FROM seats WHERE hold_token = ? AND status = 'held'", token).Scan(&live)
		lapse.CheckedAt = time.UnixMilli(now)
		if live.Valid && live.Int64 > now {
			lapse.LiveUntil = time.UnixMilli(live.Int64)
		}
		return err
	})
	return lapse, wrap(err, "release lapsed hold")
}

// sweepSQL selects the seats whose hold lapsed first, through the partial
// index on hold_expires_at: ordered by id, it read every seat of every show
// inside the write lock (130 ms for 48 000 seats, once a second).
const sweepSQL = `
	SELECT id, show_id, hold_token, hold_expires_at FROM seats
	WHERE status = 'held' AND hold_expires_at <= ? ORDER BY hold_expires_at LIMIT ?`

// ReleaseLapsed frees up to limit seats whose hold lapsed, whatever hold they
// belong to: the sweep that catches what expiry notices missed.
func (s *Store) ReleaseLapsed(ctx context.Context, limit int) ([]booking.Lapse, error) {
	var lapses []booking.Lapse
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		var err error
		lapses, err = releaseLapsed(ctx, tx, now, sweepSQL, now, limit)
		return err
	})
	return lapses, wrap(err, "release lapsed holds")
}

// releaseLapsed frees the seats a query selects as (seat, show, hold, expiry),
// groups them by hold and logs their events show by show. SQLite's one writer
// means nothing changes between the select and the update.
func releaseLapsed(ctx context.Context, tx *txn, now int64, query string, args ...any) ([]booking.Lapse, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	byHold := map[string]*booking.Lapse{}
	var order []string
	for rows.Next() {
		var seat, show, token string
		var expired int64
		if err := rows.Scan(&seat, &show, &token, &expired); err != nil {
			rows.Close()
			return nil, err
		}
		l, ok := byHold[token]
		if !ok {
			l = &booking.Lapse{Release: booking.Release{ShowID: show, ReleasedAt: time.UnixMilli(now)}, ExpiredAt: time.UnixMilli(expired)}
			byHold[token] = l
			order = append(order, token)
		}
		l.SeatIDs = append(l.SeatIDs, seat)
		l.HoldTokens = append(l.HoldTokens, token)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(order) == 0 {
		return nil, err
	}
	var seatIDs []string
	for _, token := range order {
		seatIDs = append(seatIDs, byHold[token].SeatIDs...)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE seats SET status = 'available', hold_token = NULL, holder = NULL,
		hold_expires_at = NULL, version = version + 1 WHERE `+seatsIn, jsonArray(seatIDs)); err != nil {
		return nil, err
	}
	lapses := make([]booking.Lapse, len(order))
	for i, token := range order {
		lapses[i] = *byHold[token]
	}
	slices.SortFunc(lapses, func(a, b booking.Lapse) int { return strings.Compare(a.ShowID, b.ShowID) })
	for _, l := range lapses {
		if err := appendEvents(ctx, tx, l.ShowID, event{status: booking.StatusAvailable, at: now}, l.SeatIDs, l.HoldTokens); err != nil {
			return nil, err
		}
	}
	return lapses, nil
}
