package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// Every transition below is two statements sent in one batch (see change in
// tx.go for how the transaction around them takes two round trips):
//
//  1. lockSeatsSQL locks the requested seats in seat-id order and reads them as
//     they are once locked. A plain UPDATE … WHERE id = ANY(…) would lock in
//     heap order, and two requests for overlapping seats would deadlock.
//  2. A conditional UPDATE decides, by the database clock, which seats may
//     change. Under READ COMMITTED it takes a fresh snapshot, after the locks
//     were granted, so it judges every seat as it is now; an UPDATE that locked
//     rows itself would judge refusals by the snapshot it started with, and
//     refuse a seat released while it waited.
//
// The transaction commits only if every seat asked for changed.

const lockSeatsSQL = `
SELECT id, status, coalesce(hold_token::text, ''), coalesce(holder, ''), hold_expires_at,
       coalesce(hold_expires_at <= clock_timestamp(), false)
FROM seats
WHERE id = ANY($1::uuid[]) AND show_id = $2
ORDER BY id
FOR NO KEY UPDATE`

// lockedSeat is a seat as lockSeatsSQL read it.
type lockedSeat struct {
	status  string
	token   string
	holder  string
	expires *time.Time
	lapsed  bool
}

// holdSQL holds seats that are free or whose hold lapsed. now is evaluated once,
// so every seat of the request gets the same expiry.
const holdSQL = `
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t)
UPDATE seats AS s
SET status = 'held', hold_token = $3, holder = $4, hold_expires_at = now.t + $5::interval,
    version = s.version + 1
FROM now
WHERE s.id = ANY($1::uuid[]) AND s.show_id = $2
  AND (s.status = 'available' OR (s.status = 'held' AND s.hold_expires_at <= now.t))
RETURNING s.id, now.t, s.hold_expires_at`

const insertHoldSQL = `
INSERT INTO holds (token, show_id, user_id, expires_at) VALUES ($1, $2, $3, $4)`

// Hold implements booking.SeatStore.
func (s *Store) Hold(ctx context.Context, p booking.HoldParams) (booking.Hold, error) {
	h := booking.Hold{Token: p.Token, Version: 1, UserID: p.UserID, ShowID: p.ShowID, SeatIDs: p.SeatIDs}
	var t transition
	err := s.change(ctx, func(b *pgx.Batch) {
		queueReserve(b, p.Idempotent)
		t.queue(b, p.SeatIDs, p.ShowID, holdSQL, p.Token, p.UserID, p.TTL)
	}, func(querier) (*pgx.Batch, error) {
		if len(t.changed) != len(p.SeatIDs) {
			return nil, booking.SeatsUnavailable(booking.Unchanged(p.SeatIDs, t.changed))
		}
		h.ExpiresAt = t.expiresAt
		for _, id := range p.SeatIDs {
			if l := t.locked[id]; l.status == string(booking.StatusHeld) && l.expires != nil {
				h.Lapsed = append(h.Lapsed, *l.expires)
			}
		}
		b := &pgx.Batch{}
		b.Queue(insertHoldSQL, p.Token, p.ShowID, p.UserID, h.ExpiresAt)
		queueEvents(b, p.ShowID, event{status: booking.StatusHeld, at: t.at}, p.SeatIDs, repeat(p.Token, len(p.SeatIDs)))
		return b, queueAnswer(b, p.Idempotent, h)
	})
	if err != nil {
		return booking.Hold{}, wrap(err, "hold seats")
	}
	return h, nil
}

// bookSQL sells seats the user holds under a live hold (under hold $5, if given).
const bookSQL = `
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t)
UPDATE seats AS s
SET status = 'booked', booking_id = $3, hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = s.version + 1
FROM now
WHERE s.id = ANY($1::uuid[]) AND s.show_id = $2
  AND s.status = 'held' AND s.holder = $4 AND s.hold_expires_at > now.t
  AND ($5::uuid IS NULL OR s.hold_token = $5)
RETURNING s.id, now.t, NULL::timestamptz`

const insertBookingSQL = `
INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
SELECT $1, b.seat_id, $2, $3, b.hold_token, $6
FROM unnest($4::uuid[], $5::uuid[]) AS b(seat_id, hold_token)`

// holdLapsedSQL tells whether a user's hold has lapsed, after its seats were
// released by expiry or taken by someone else.
const holdLapsedSQL = `
SELECT expires_at <= clock_timestamp() FROM holds WHERE token = $1 AND user_id = $2`

// Book implements booking.SeatStore.
func (s *Store) Book(ctx context.Context, p booking.BookParams) (booking.Booking, error) {
	bk := booking.Booking{ID: p.BookingID, ShowID: p.ShowID, UserID: p.UserID, SeatIDs: p.SeatIDs}
	var t transition
	err := s.change(ctx, func(b *pgx.Batch) {
		queueReserve(b, p.Idempotent)
		t.queue(b, p.SeatIDs, p.ShowID, bookSQL, p.BookingID, p.UserID, nullable(p.HoldToken))
	}, func(q querier) (*pgx.Batch, error) {
		if len(t.changed) != len(p.SeatIDs) {
			return nil, bookFailure(ctx, q, p, t.locked, booking.Unchanged(p.SeatIDs, t.changed))
		}
		bk.BookedAt = t.at
		b := &pgx.Batch{}
		b.Queue(insertBookingSQL, p.ShowID, p.BookingID, p.UserID, p.SeatIDs, t.tokensOf(p.SeatIDs), t.at)
		queueEvents(b, p.ShowID, event{status: booking.StatusBooked, bookingID: p.BookingID, at: t.at}, p.SeatIDs, nil)
		return b, queueAnswer(b, p.Idempotent, bk)
	})
	if err != nil {
		return booking.Booking{}, wrap(err, "book seats")
	}
	return bk, nil
}

// bookFailure explains why a book could not take the failed seats, from the
// rows as they were locked: 409 for seats sold or not the user's, else 410 for
// the user's holds that lapsed.
func bookFailure(ctx context.Context, q querier, p booking.BookParams, locked map[string]lockedSeat, failed []string) error {
	var taken, expired, unclear []string
	for _, id := range failed {
		l := locked[id]
		switch {
		case l.status == string(booking.StatusBooked):
			taken = append(taken, id)
		case l.status == string(booking.StatusHeld) && l.holder == p.UserID && (p.HoldToken == "" || l.token == p.HoldToken) && l.lapsed:
			expired = append(expired, id)
		default:
			unclear = append(unclear, id)
		}
	}
	// A seat no longer held under the caller's hold is theirs to hear "expired"
	// about if that hold lapsed, whoever has the seat now.
	if len(unclear) > 0 && p.HoldToken != "" {
		var lapsed bool
		err := q.QueryRow(ctx, holdLapsedSQL, p.HoldToken, p.UserID).Scan(&lapsed)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if lapsed {
			expired, unclear = append(expired, unclear...), nil
		}
	}
	taken = append(taken, unclear...)
	if len(taken) > 0 {
		return booking.SeatsUnavailable(booking.InOrder(failed, taken))
	}
	return booking.HoldExpired(booking.InOrder(failed, expired))
}

// releaseSQL frees seats the user holds (under hold $4, if given), lapsed or not.
const releaseSQL = `
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t)
UPDATE seats AS s
SET status = 'available', hold_token = NULL, holder = NULL, hold_expires_at = NULL,
    version = s.version + 1
FROM now
WHERE s.id = ANY($1::uuid[]) AND s.show_id = $2
  AND s.status = 'held' AND s.holder = $3
  AND ($4::uuid IS NULL OR s.hold_token = $4)
RETURNING s.id, now.t, NULL::timestamptz`

// Release implements booking.SeatStore.
func (s *Store) Release(ctx context.Context, p booking.ReleaseParams) (booking.Release, error) {
	r := booking.Release{ShowID: p.ShowID}
	var t transition
	err := s.change(ctx, func(b *pgx.Batch) {
		queueReserve(b, p.Idempotent)
		t.queue(b, p.SeatIDs, p.ShowID, releaseSQL, p.UserID, nullable(p.HoldToken))
	}, func(querier) (*pgx.Batch, error) {
		if len(t.changed) != len(p.SeatIDs) {
			return nil, booking.SeatsUnavailable(booking.Unchanged(p.SeatIDs, t.changed))
		}
		r.SeatIDs, r.ReleasedAt, r.HoldTokens = p.SeatIDs, t.at, t.tokensOf(p.SeatIDs)
		b := &pgx.Batch{}
		queueEvents(b, p.ShowID, event{status: booking.StatusAvailable, at: t.at}, p.SeatIDs, r.HoldTokens)
		return b, queueAnswer(b, p.Idempotent, r)
	})
	if err != nil {
		return booking.Release{}, wrap(err, "release seats")
	}
	return r, nil
}

// transition is what the first batch of a seat change read: each requested
// seat as locked, and the seats the UPDATE changed, at what time, with what
// hold expiry.
type transition struct {
	locked    map[string]lockedSeat
	changed   []string
	at        time.Time
	expiresAt time.Time
}

// queue adds to b the lock of seatIDs of showID and update, whose first two
// parameters are the seat ids and the show id, followed by args; their rows
// land in t when the batch is read.
func (t *transition) queue(b *pgx.Batch, seatIDs []string, showID, update string, args ...any) {
	t.locked = make(map[string]lockedSeat, len(seatIDs))
	b.Queue(lockSeatsSQL, seatIDs, showID).Query(func(rows pgx.Rows) error {
		var id string
		var l lockedSeat
		_, err := pgx.ForEachRow(rows, []any{&id, &l.status, &l.token, &l.holder, &l.expires, &l.lapsed}, func() error {
			t.locked[id] = l
			return nil
		})
		return err
	})
	b.Queue(update, append([]any{seatIDs, showID}, args...)...).Query(func(rows pgx.Rows) error {
		var id string
		var expires *time.Time
		_, err := pgx.ForEachRow(rows, []any{&id, &t.at, &expires}, func() error {
			t.changed = append(t.changed, id)
			if expires != nil {
				t.expiresAt = *expires
			}
			return nil
		})
		return err
	})
}

// tokensOf returns the hold each of seatIDs was locked under.
func (t *transition) tokensOf(seatIDs []string) []string {
	out := make([]string, len(seatIDs))
	for i, id := range seatIDs {
		out[i] = t.locked[id].token
	}
	return out
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
