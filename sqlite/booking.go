package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"seatmanager/booking"
)

// SQLite has one writer at a time, and every transaction here starts with BEGIN
// IMMEDIATE, so a transaction sees no concurrent change between its statements and
// lock order cannot matter. Each transition is still one conditional UPDATE
// decided by the database clock, committed only if every seat asked for changed.

// seatsIn matches the seat ids of a JSON array parameter. The statements
// that also name the show write it +show_id, and the holder +holder: SQLite
// cannot tell how many ids the array holds, and would otherwise search the
// show's index or seats_holder_idx and read every seat of the show (all
// 60 000 of a stadium) or every seat the user holds instead of the few by id.
const seatsIn = "id IN (SELECT value FROM json_each(?))"

const holdSQL = `
UPDATE seats SET status = 'held', hold_token = ?, holder = ?, hold_expires_at = ?, version = version + 1
WHERE ` + seatsIn + ` AND +show_id = ?
  AND blocked = 0 AND (status = 'available' OR (status = 'held' AND hold_expires_at <= ?))
RETURNING id`

// heldByUserSQL counts the seats of a show a user holds and has not let
// lapse, by seats_holder_idx.
const heldByUserSQL = `
SELECT count(*) FROM seats
WHERE holder = ?2 AND show_id = ?3 AND status = 'held' AND hold_expires_at > ?1`

// Hold implements booking.SeatStore.
func (s *Store) Hold(ctx context.Context, p booking.HoldParams) (booking.Hold, error) {
	h := booking.Hold{Token: p.Token, Version: 1, UserID: p.UserID, ShowID: p.ShowID, SeatIDs: p.SeatIDs}
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		expires := now + p.TTL.Milliseconds()
		if p.MaxHeld > 0 {
			// The one writer counts and holds in one transaction: parallel
			// holds of a user cannot both pass the cap.
			var held int
			if err := tx.QueryRowContext(ctx, heldByUserSQL, now, p.UserID, p.ShowID).Scan(&held); err != nil {
				return err
			}
			if err := booking.CheckHeld(held, len(p.SeatIDs), p.MaxHeld); err != nil {
				return err
			}
		}
		lapsed, err := queryInts(ctx, tx, "SELECT hold_expires_at FROM seats WHERE "+seatsIn+" AND status = 'held' AND hold_expires_at <= ?",
			jsonArray(p.SeatIDs), now)
		if err != nil {
			return err
		}
		held, err := queryStrings(ctx, tx, holdSQL, p.Token, p.UserID, expires, jsonArray(p.SeatIDs), p.ShowID, now)
		if err != nil {
			return err
		}
		if len(held) != len(p.SeatIDs) {
			return booking.SeatsUnavailable(booking.Unchanged(p.SeatIDs, held))
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO holds (token, show_id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
			p.Token, p.ShowID, p.UserID, expires, now); err != nil {
			return err
		}
		h.ExpiresAt = time.UnixMilli(expires)
		for _, ms := range lapsed {
			h.Lapsed = append(h.Lapsed, time.UnixMilli(ms))
		}
		if err := appendEvents(ctx, tx, p.ShowID, event{status: booking.StatusHeld, at: now}, p.SeatIDs, slices.Repeat([]string{p.Token}, len(p.SeatIDs))); err != nil {
			return err
		}
		return insertReceipt(ctx, tx, now, p.Idempotent, h)
	})
	if err != nil {
		return booking.Hold{}, wrap(err, "hold seats")
	}
	return h, nil
}

// heldSQL reads the hold of each requested seat that the user holds (under hold
// ?, if not empty), lapsed or not: books and releases record which hold they ended.
const heldSQL = `
SELECT id, hold_token, hold_expires_at <= ? FROM seats
WHERE ` + seatsIn + ` AND status = 'held' AND +holder = ? AND (? = '' OR hold_token = ?)`

const bookSQL = `
UPDATE seats SET status = 'booked', booking_id = ?,
    hold_token = NULL, holder = NULL, hold_expires_at = NULL, version = version + 1
WHERE ` + seatsIn + ` AND +show_id = ?
  AND status = 'held' AND +holder = ? AND hold_expires_at > ? AND (? = '' OR hold_token = ?)
RETURNING id`

// Book implements booking.SeatStore.
func (s *Store) Book(ctx context.Context, p booking.BookParams) (booking.Booking, error) {
	bk := booking.Booking{ID: p.BookingID, ShowID: p.ShowID, UserID: p.UserID, SeatIDs: p.SeatIDs}
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		held, err := heldSeats(ctx, tx, now, p.SeatIDs, p.UserID, p.HoldToken)
		if err != nil {
			return err
		}
		booked, err := queryStrings(ctx, tx, bookSQL,
			p.BookingID, jsonArray(p.SeatIDs), p.ShowID, p.UserID, now, p.HoldToken, p.HoldToken)
		if err != nil {
			return err
		}
		if len(booked) != len(p.SeatIDs) {
			return bookFailure(ctx, tx, now, p, booking.Unchanged(p.SeatIDs, booked))
		}
		tokens := make([]string, len(p.SeatIDs))
		for i, id := range p.SeatIDs {
			tokens[i] = held[id].token
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
			SELECT ?1, e.value, ?2, ?3, json_extract(?4, '$[' || e.key || ']'), ?5 FROM json_each(?6) AS e`,
			p.ShowID, p.BookingID, p.UserID, jsonArray(tokens), now, jsonArray(p.SeatIDs)); err != nil {
			return err
		}
		bk.BookedAt = time.UnixMilli(now)
		if err := appendEvents(ctx, tx, p.ShowID, event{status: booking.StatusBooked, bookingID: p.BookingID, at: now}, p.SeatIDs, nil); err != nil {
			return err
		}
		if bk.Ended, err = endedHolds(ctx, tx, tokens); err != nil {
			return err
		}
		return insertReceipt(ctx, tx, now, p.Idempotent, bk)
	})
	if err != nil {
		return booking.Booking{}, wrap(err, "book seats")
	}
	return bk, nil
}

// seatRowsSQL reads seats of a show as a change judges them.
const seatRowsSQL = `
SELECT id, status, coalesce(holder, ''), coalesce(hold_token, ''), coalesce(hold_expires_at <= ?, 0) FROM seats
WHERE ` + seatsIn + ` AND +show_id = ?`

// bookFailure explains why a book could not take the failed seats, from the
// rows as they are in its transaction, by the rule every store shares.
func bookFailure(ctx context.Context, tx *txn, now int64, p booking.BookParams, failed []string) error {
	rows, err := tx.QueryContext(ctx, seatRowsSQL, now, jsonArray(failed), p.ShowID)
	if err != nil {
		return err
	}
	found := make(map[string]booking.SeatRow, len(failed))
	for rows.Next() {
		var id string
		var r booking.SeatRow
		if err := rows.Scan(&id, &r.Status, &r.Holder, &r.HoldToken, &r.Lapsed); err != nil {
			rows.Close()
			return err
		}
		found[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	why := func(id string) booking.Obstacle {
		r, ok := found[id]
		if !ok {
			return booking.SeatFree
		}
		return r.Obstacle(p.UserID, p.HoldToken)
	}
	return booking.BookRefusal(failed, why, func() (bool, error) {
		if p.HoldToken == "" {
			return false, nil
		}
		var expires int64
		err := tx.QueryRowContext(ctx, "SELECT expires_at FROM holds WHERE token = ? AND user_id = ? AND show_id = ?", p.HoldToken, p.UserID, p.ShowID).Scan(&expires)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return expires <= now, err
	})
}

const releaseSQL = `
UPDATE seats SET status = 'available',
    hold_token = NULL, holder = NULL, hold_expires_at = NULL, version = version + 1
WHERE ` + seatsIn + ` AND +show_id = ?
  AND status = 'held' AND +holder = ? AND (? = '' OR hold_token = ?)
RETURNING id`

// Release implements booking.SeatStore.
func (s *Store) Release(ctx context.Context, p booking.ReleaseParams) (booking.Release, error) {
	r := booking.Release{ShowID: p.ShowID, SeatIDs: p.SeatIDs}
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		held, err := heldSeats(ctx, tx, now, p.SeatIDs, p.UserID, p.HoldToken)
		if err != nil {
			return err
		}
		released, err := queryStrings(ctx, tx, releaseSQL, jsonArray(p.SeatIDs), p.ShowID, p.UserID, p.HoldToken, p.HoldToken)
		if err != nil {
			return err
		}
		if len(released) != len(p.SeatIDs) {
			return booking.SeatsUnavailable(booking.Unchanged(p.SeatIDs, released))
		}
		r.ReleasedAt = time.UnixMilli(now)
		r.HoldTokens = make([]string, len(p.SeatIDs))
		for i, id := range p.SeatIDs {
			r.HoldTokens[i] = held[id].token
		}
		if err := appendEvents(ctx, tx, p.ShowID, event{status: booking.StatusAvailable, at: now}, p.SeatIDs, r.HoldTokens); err != nil {
			return err
		}
		if r.Ended, err = endedHolds(ctx, tx, r.HoldTokens); err != nil {
			return err
		}
		return insertReceipt(ctx, tx, now, p.Idempotent, r)
	})
	if err != nil {
		return booking.Release{}, wrap(err, "release seats")
	}
	return r, nil
}

type heldSeat struct {
	token  string
	lapsed bool
}

func heldSeats(ctx context.Context, tx *txn, now int64, seatIDs []string, userID, holdToken string) (map[string]heldSeat, error) {
	rows, err := tx.QueryContext(ctx, heldSQL, now, jsonArray(seatIDs), userID, holdToken, holdToken)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	held := make(map[string]heldSeat, len(seatIDs))
	for rows.Next() {
		var id string
		var h heldSeat
		if err := rows.Scan(&id, &h.token, &h.lapsed); err != nil {
			return nil, err
		}
		held[id] = h
	}
	return held, rows.Err()
}

type event struct {
	status    booking.Status
	bookingID string
	at        int64
}

// appendEvents bumps the show's seq and records one event per seat, numbered
// below the new seq. holdTokens, if not nil, gives each seat's hold.
func appendEvents(ctx context.Context, tx *txn, showID string, e event, seatIDs, holdTokens []string) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, "UPDATE shows SET seq = seq + ? WHERE id = ? RETURNING seq",
		len(seatIDs), showID).Scan(&seq); err != nil {
		return err
	}
	if holdTokens == nil {
		holdTokens = []string{}
	}
	// One statement for all the seats: the i-th seat gets seq first+i and the
	// i-th hold token (none if there are none).
	_, err := tx.ExecContext(ctx, appendEventsSQL, showID, seq-int64(len(seatIDs))+1, string(e.status),
		jsonArray(holdTokens), e.bookingID, e.at, jsonArray(seatIDs))
	return err
}

const appendEventsSQL = `
INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
SELECT ?1, ?2 + e.key, e.value, ?3, json_extract(?4, '$[' || e.key || ']'), nullif(?5, ''), ?6
FROM json_each(?7) AS e`

// endedHoldsSQL returns those of the holds of a JSON array that have no seat
// left.
const endedHoldsSQL = `
SELECT DISTINCT t.value FROM json_each(?) AS t
WHERE t.value <> '' AND NOT EXISTS (SELECT 1 FROM seats WHERE hold_token = t.value AND status = 'held')`

// endedHolds returns the holds of tokens that a book or release, just
// written, left without seats.
func endedHolds(ctx context.Context, tx *txn, tokens []string) ([]string, error) {
	return queryStrings(ctx, tx, endedHoldsSQL, jsonArray(tokens))
}
