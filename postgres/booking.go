package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// Each transition below is one UPDATE whose first step locks the requested seats
// in seat-id order (ORDER BY id sorts before FOR NO KEY UPDATE locks). A plain
// UPDATE … WHERE id = ANY(…) would lock in heap order, and two requests for
// overlapping seats would deadlock. The WHERE clause then decides, row by row and
// by the database clock, whether each seat may change; the transaction commits
// only if every seat asked for did. (SELECT clock_timestamp()) is evaluated once
// per statement, so all seats of a request share one timestamp.

// holdSQL holds seats that are free or whose hold lapsed.
const holdSQL = `
WITH locked AS MATERIALIZED (
    SELECT id FROM seats
    WHERE id = ANY($1::uuid[]) AND show_id = $2
    ORDER BY id
    FOR NO KEY UPDATE
)
UPDATE seats AS s
SET status = 'held', hold_token = $3, holder = $4,
    hold_expires_at = (SELECT clock_timestamp()) + $5::interval,
    version = s.version + 1
FROM locked
WHERE s.id = locked.id
  AND (s.status = 'available' OR (s.status = 'held' AND s.hold_expires_at <= clock_timestamp()))
RETURNING s.id, (SELECT clock_timestamp()), s.hold_token, s.hold_expires_at`

const insertHoldSQL = `
INSERT INTO holds (token, show_id, user_id, expires_at) VALUES ($1, $2, $3, $4)`

// Hold implements booking.SeatStore.
func (s *Store) Hold(ctx context.Context, p booking.HoldParams) (booking.Hold, error) {
	h := booking.Hold{Token: p.Token, Version: 1, UserID: p.UserID, ShowID: p.ShowID, SeatIDs: p.SeatIDs}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, holdSQL, sorted(p.SeatIDs), p.ShowID, p.Token, p.UserID, p.TTL)
		if err != nil {
			return err
		}
		changed, err := collectChanged(rows)
		if err != nil {
			return err
		}
		h.ExpiresAt = changed.expiresAt
		if len(changed.ids) != len(p.SeatIDs) {
			return booking.SeatsUnavailable(booking.Unchanged(p.SeatIDs, changed.ids))
		}
		b := &pgx.Batch{}
		b.Queue(insertHoldSQL, p.Token, p.ShowID, p.UserID, h.ExpiresAt)
		queueEvents(b, p.ShowID, event{status: booking.StatusHeld, at: changed.at}, changed.ids, changed.tokens)
		if err := queueReceipt(b, p.Idempotent, h); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return booking.Hold{}, wrap(err, "hold seats")
	}
	return h, nil
}

// bookSQL sells seats the user holds under a live hold (under hold $5, if given).
// It reads each seat's hold from the locked row, because RETURNING sees new values.
const bookSQL = `
WITH locked AS MATERIALIZED (
    SELECT id, hold_token FROM seats
    WHERE id = ANY($1::uuid[]) AND show_id = $2
    ORDER BY id
    FOR NO KEY UPDATE
)
UPDATE seats AS s
SET status = 'booked', booking_id = $3,
    hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = s.version + 1
FROM locked
WHERE s.id = locked.id
  AND s.status = 'held' AND s.holder = $4
  AND s.hold_expires_at > clock_timestamp()
  AND ($5::uuid IS NULL OR s.hold_token = $5)
RETURNING s.id, (SELECT clock_timestamp()), locked.hold_token, NULL::timestamptz`

const insertBookingSQL = `
INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
SELECT $1, b.seat_id, $2, $3, b.hold_token, $6
FROM unnest($4::uuid[], $5::uuid[]) AS b(seat_id, hold_token)`

// bookFailureSQL tells, for seats a book could not take, which of them the user
// held under a hold that has lapsed. Run inside the failed transaction, it sees
// the rows as they were locked.
const bookFailureSQL = `
SELECT id, status = 'held' AND holder = $2 AND ($3::uuid IS NULL OR hold_token = $3)
           AND hold_expires_at <= clock_timestamp()
FROM seats WHERE id = ANY($1::uuid[])`

// holdLapsedSQL tells whether a user's hold has lapsed, even after its seats were
// released or taken by someone else.
const holdLapsedSQL = `
SELECT expires_at <= clock_timestamp() FROM holds WHERE token = $1 AND user_id = $2`

// Book implements booking.SeatStore.
func (s *Store) Book(ctx context.Context, p booking.BookParams) (booking.Booking, error) {
	bk := booking.Booking{ID: p.BookingID, ShowID: p.ShowID, UserID: p.UserID, SeatIDs: p.SeatIDs}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, bookSQL, sorted(p.SeatIDs), p.ShowID, p.BookingID, p.UserID, nullable(p.HoldToken))
		if err != nil {
			return err
		}
		changed, err := collectChanged(rows)
		if err != nil {
			return err
		}
		if len(changed.ids) != len(p.SeatIDs) {
			return bookFailure(ctx, tx, p, booking.Unchanged(p.SeatIDs, changed.ids))
		}
		bk.BookedAt = changed.at
		b := &pgx.Batch{}
		b.Queue(insertBookingSQL, p.ShowID, p.BookingID, p.UserID, changed.ids, changed.tokens, changed.at)
		queueEvents(b, p.ShowID, event{status: booking.StatusBooked, bookingID: p.BookingID, at: changed.at}, changed.ids, nil)
		if err := queueReceipt(b, p.Idempotent, bk); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return booking.Booking{}, wrap(err, "book seats")
	}
	return bk, nil
}

// bookFailure explains why a book could not take the failed seats: 409 for seats
// the user does not hold, else 410 for holds that lapsed.
func bookFailure(ctx context.Context, tx pgx.Tx, p booking.BookParams, failed []string) error {
	if p.HoldToken != "" {
		var lapsed bool
		err := tx.QueryRow(ctx, holdLapsedSQL, p.HoldToken, p.UserID).Scan(&lapsed)
		if err == nil && lapsed {
			return booking.HoldExpired(failed)
		}
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
	}
	rows, err := tx.Query(ctx, bookFailureSQL, failed, p.UserID, nullable(p.HoldToken))
	if err != nil {
		return err
	}
	lapsed := make(map[string]bool, len(failed))
	var id string
	var l bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &l}, func() error { lapsed[id] = l; return nil }); err != nil {
		return err
	}
	var taken, expired []string
	for _, id := range failed {
		if lapsed[id] {
			expired = append(expired, id)
		} else {
			taken = append(taken, id)
		}
	}
	if len(taken) > 0 {
		return booking.SeatsUnavailable(taken)
	}
	return booking.HoldExpired(expired)
}

// releaseSQL frees seats the user holds (under hold $4, if given), lapsed or not.
const releaseSQL = `
WITH locked AS MATERIALIZED (
    SELECT id, hold_token FROM seats
    WHERE id = ANY($1::uuid[]) AND show_id = $2
    ORDER BY id
    FOR NO KEY UPDATE
)
UPDATE seats AS s
SET status = 'available', hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = s.version + 1
FROM locked
WHERE s.id = locked.id
  AND s.status = 'held' AND s.holder = $3
  AND ($4::uuid IS NULL OR s.hold_token = $4)
RETURNING s.id, (SELECT clock_timestamp()), locked.hold_token, NULL::timestamptz`

// Release implements booking.SeatStore.
func (s *Store) Release(ctx context.Context, p booking.ReleaseParams) (booking.Release, error) {
	r := booking.Release{ShowID: p.ShowID}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, releaseSQL, sorted(p.SeatIDs), p.ShowID, p.UserID, nullable(p.HoldToken))
		if err != nil {
			return err
		}
		changed, err := collectChanged(rows)
		if err != nil {
			return err
		}
		if len(changed.ids) != len(p.SeatIDs) {
			return booking.SeatsUnavailable(booking.Unchanged(p.SeatIDs, changed.ids))
		}
		r.SeatIDs, r.ReleasedAt = p.SeatIDs, changed.at
		r.HoldTokens = changed.tokensFor(p.SeatIDs)
		b := &pgx.Batch{}
		queueEvents(b, p.ShowID, event{status: booking.StatusAvailable, at: changed.at}, changed.ids, changed.tokens)
		if err := queueReceipt(b, p.Idempotent, r); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return booking.Release{}, wrap(err, "release seats")
	}
	return r, nil
}

// appendEventsSQL bumps the show's seq by the number of events and numbers them
// below the new value. The show row stays locked until commit, so a show's events
// are numbered without gaps in commit order. It is the last lock a transition
// takes, after its seats, which keeps the lock order acyclic.
const appendEventsSQL = `
WITH bump AS (
    UPDATE shows SET seq = seq + cardinality($2::uuid[]) WHERE id = $1 RETURNING seq
)
INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
SELECT $1, bump.seq - cardinality($2::uuid[]) + e.n, e.seat_id, $3, e.hold_token, $5, $6
FROM bump, unnest($2::uuid[], $4::uuid[]) WITH ORDINALITY AS e(seat_id, hold_token, n)`

type event struct {
	status    booking.Status
	bookingID string
	at        time.Time
}

// queueEvents appends one event per seat; holdTokens, if not nil, gives each seat's hold.
func queueEvents(b *pgx.Batch, showID string, e event, seatIDs, holdTokens []string) {
	if holdTokens == nil {
		holdTokens = []string{}
	}
	b.Queue(appendEventsSQL, showID, seatIDs, string(e.status), holdTokens, nullable(e.bookingID), e.at)
}

// changedSeats are the rows a transition statement returned: every statement
// returns (seat id, statement time, the seat's hold, the hold's expiry).
type changedSeats struct {
	ids       []string
	tokens    []string // the hold of each seat, where the statement returns one
	at        time.Time
	expiresAt time.Time
}

// tokensFor returns the hold of each of seatIDs, which must all have changed.
func (c changedSeats) tokensFor(seatIDs []string) []string {
	byID := make(map[string]string, len(c.ids))
	for i, id := range c.ids {
		byID[id] = c.tokens[i]
	}
	out := make([]string, len(seatIDs))
	for i, id := range seatIDs {
		out[i] = byID[id]
	}
	return out
}

func collectChanged(rows pgx.Rows) (changedSeats, error) {
	var c changedSeats
	var id string
	var token *string
	var expires *time.Time
	_, err := pgx.ForEachRow(rows, []any{&id, &c.at, &token, &expires}, func() error {
		c.ids = append(c.ids, id)
		if token != nil {
			c.tokens = append(c.tokens, *token)
		}
		if expires != nil {
			c.expiresAt = *expires
		}
		return nil
	})
	return c, err
}
