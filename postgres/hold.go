package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// lookupHoldSQL reads a hold and the seats it still holds (not booked, released
// or lapsed).
const lookupHoldSQL = `
SELECT h.user_id, h.show_id, h.version, h.extensions, h.expires_at, s.id
FROM holds h JOIN seats s ON s.hold_token = h.token
WHERE h.token = $1 AND s.status = 'held' AND s.hold_expires_at > clock_timestamp()
ORDER BY s.id`

// LookupHold returns a live hold with the seats it still holds, or
// booking.ErrNotFound once it has none.
func (s *Store) LookupHold(ctx context.Context, token string) (booking.Hold, error) {
	h := booking.Hold{Token: token}
	rows, err := s.pool.Query(ctx, lookupHoldSQL, token)
	if err != nil {
		return h, wrap(err, "look up hold")
	}
	var seat string
	_, err = pgx.ForEachRow(rows, []any{&h.UserID, &h.ShowID, &h.Version, &h.Extensions, &h.ExpiresAt, &seat}, func() error {
		h.SeatIDs = append(h.SeatIDs, seat)
		return nil
	})
	if err != nil {
		return h, wrap(err, "look up hold")
	}
	if len(h.SeatIDs) == 0 {
		return h, booking.NotFoundf("no hold %s", token)
	}
	return h, nil
}

// lockHoldSQL locks a hold's row: two extensions of one hold queue here.
const lockHoldSQL = `
SELECT user_id, show_id, version, extensions, expires_at, expires_at <= clock_timestamp()
FROM holds WHERE token = $1
FOR NO KEY UPDATE`

// extendSeatsSQL moves the expiry of every seat the hold still holds, locking
// them in seat-id order like every other transition.
const extendSeatsSQL = `
WITH locked AS MATERIALIZED (
    SELECT id FROM seats
    WHERE hold_token = $1 AND status = 'held'
    ORDER BY id
    FOR NO KEY UPDATE
)
UPDATE seats AS s
SET hold_expires_at = $2, version = s.version + 1
FROM locked
WHERE s.id = locked.id AND s.hold_expires_at > clock_timestamp()
RETURNING s.id`

// ExtendHold implements booking.HoldStore.
func (s *Store) ExtendHold(ctx context.Context, p booking.ExtendParams) (booking.Hold, error) {
	h := booking.Hold{Token: p.Token}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var lapsed bool
		err := tx.QueryRow(ctx, lockHoldSQL, p.Token).Scan(&h.UserID, &h.ShowID, &h.Version, &h.Extensions, &h.ExpiresAt, &lapsed)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && h.UserID != p.UserID) {
			return booking.NotFoundf("no hold %s", p.Token)
		}
		if err != nil {
			return err
		}
		h.ExpiresAt = h.ExpiresAt.Add(p.By)
		rows, err := tx.Query(ctx, extendSeatsSQL, p.Token, h.ExpiresAt)
		if err != nil {
			return err
		}
		if h.SeatIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if len(h.SeatIDs) == 0 && !lapsed {
			return booking.NotFoundf("hold %s holds no seats any more", p.Token)
		}
		// Checked after the seats, so that a hold that is gone says so; an
		// error here rolls the seats' new expiry back.
		if err := booking.CheckExtension(h, lapsed, p.MaxExtensions); err != nil {
			return err
		}
		slices.Sort(h.SeatIDs)
		h.Version++
		h.Extensions++
		b := &pgx.Batch{}
		b.Queue("UPDATE holds SET expires_at = $2, version = $3, extensions = $4 WHERE token = $1",
			p.Token, h.ExpiresAt, h.Version, h.Extensions)
		if err := queueReceipt(b, p.Idempotent, h); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return booking.Hold{}, wrap(err, "extend hold")
	}
	return h, nil
}
