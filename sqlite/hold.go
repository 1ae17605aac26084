package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"seatmanager/booking"
)

// LookupHold returns a live hold with the seats it still holds, or
// booking.ErrNotFound once it has none.
func (s *Store) LookupHold(ctx context.Context, token string) (booking.Hold, error) {
	h := booking.Hold{Token: token}
	err := s.inReadTx(ctx, func(tx *txn, now int64) error {
		var expires int64
		err := tx.QueryRowContext(ctx, "SELECT user_id, show_id, version, extensions, expires_at FROM holds WHERE token = ?", token).
			Scan(&h.UserID, &h.ShowID, &h.Version, &h.Extensions, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return booking.NotFoundf("no hold %s", token)
		}
		if err != nil {
			return err
		}
		h.ExpiresAt = time.UnixMilli(expires)
		h.SeatIDs, err = queryStrings(ctx, tx, `SELECT id FROM seats
			WHERE hold_token = ? AND status = 'held' AND hold_expires_at > ? ORDER BY id`, token, now)
		if err == nil && len(h.SeatIDs) == 0 {
			return booking.NotFoundf("no hold %s", token)
		}
		return err
	})
	return h, wrap(err, "look up hold")
}

// ExtendHold implements booking.HoldStore.
func (s *Store) ExtendHold(ctx context.Context, p booking.ExtendParams) (booking.Hold, error) {
	h := booking.Hold{Token: p.Token}
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		var expires int64
		err := tx.QueryRowContext(ctx, "SELECT user_id, show_id, version, extensions, expires_at FROM holds WHERE token = ?", p.Token).
			Scan(&h.UserID, &h.ShowID, &h.Version, &h.Extensions, &expires)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && h.UserID != p.UserID) {
			return booking.NotFoundf("no hold %s", p.Token)
		}
		if err != nil {
			return err
		}
		lapsed := expires <= now
		expires += p.By.Milliseconds()
		h.ExpiresAt = time.UnixMilli(expires)
		h.SeatIDs, err = queryStrings(ctx, tx, `UPDATE seats SET hold_expires_at = ?, version = version + 1
			WHERE hold_token = ? AND status = 'held' AND hold_expires_at > ? RETURNING id`, expires, p.Token, now)
		if err != nil {
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
		if _, err := tx.ExecContext(ctx, "UPDATE holds SET expires_at = ?, version = ?, extensions = ? WHERE token = ?",
			expires, h.Version, h.Extensions, p.Token); err != nil {
			return err
		}
		return insertReceipt(ctx, tx, now, p.Idempotent, h)
	})
	if err != nil {
		return booking.Hold{}, wrap(err, "extend hold")
	}
	return h, nil
}
