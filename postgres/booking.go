package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// Every transition below is a transaction of two round trips (see change in
// tx.go):
//
//  1. lockSeatsSQL locks the requested seats in seat-id order and reads them as
//     they are once locked, with the database clock read after the last lock
//     was granted. A plain UPDATE … WHERE id = ANY(…) would lock in heap order,
//     and two requests for overlapping seats would deadlock.
//  2. Go decides from those rows, by that clock, whether every seat may change.
//     Nobody else can change a locked seat until this transaction ends, so the
//     rows are the seats as they are now: a seat released while the request
//     waited for its lock is judged free. If any seat may not change, the
//     transaction rolls back; if all may, recordSQL writes the whole change in
//     one statement, and COMMIT follows in the same round trip.

const lockSeatsSQL = `
WITH locked AS MATERIALIZED (
    SELECT id, status, hold_token, holder, hold_expires_at
    FROM seats
    WHERE id = ANY($1::uuid[]) AND show_id = $2
    ORDER BY id
    FOR NO KEY UPDATE
), now AS MATERIALIZED (
    -- The count reads every locked row first, so the clock is read after the
    -- last lock was granted, however long the locks took.
    SELECT clock_timestamp() AS t FROM (SELECT count(*) FROM locked) AS all_locked
)
SELECT l.id, l.status, coalesce(l.hold_token::text, ''), coalesce(l.holder, ''), l.hold_expires_at,
       coalesce(l.hold_expires_at <= now.t, false), now.t
FROM now, locked AS l`

// lockedSeat is a seat as lockSeatsSQL read it.
type lockedSeat struct {
	status  string
	token   string
	holder  string
	expires *time.Time
	lapsed  bool // its hold's expiry has passed, by the database clock
}

func (l lockedSeat) held() bool { return l.status == string(booking.StatusHeld) }

// holdable reports whether a new hold may take the seat: free, or held under a
// hold that lapsed.
func (l lockedSeat) holdable() bool {
	return l.status == string(booking.StatusAvailable) || (l.held() && l.lapsed)
}

// heldBy reports whether user holds the seat (under token, if set), lapsed or not.
func (l lockedSeat) heldBy(user, token string) bool {
	return l.held() && l.holder == user && (token == "" || l.token == token)
}

// recordSQL writes a change Go decided on seats it has locked, in one statement:
// the seats get status $3 with the hold ($4, $5, $6) or sale ($7) it implies;
// a hold gets its row and a sale its bookings (for user $8, from holds $9); the
// show's seq grows by one event per seat (with holds $11) and the events are
// numbered below it; and the request's receipt, if it has one ($12, $13), gets
// its answer $14. The show row is the last lock a transition takes, after its
// seats, which keeps the lock order acyclic, and it stays locked until commit,
// so a show's events are numbered without gaps in commit order.
const recordSQL = `
WITH changed AS (
    UPDATE seats
    SET status = $3, hold_token = $4, holder = $5, hold_expires_at = $6, booking_id = $7,
        version = version + 1
    WHERE id = ANY($1::uuid[])
), held AS (
    INSERT INTO holds (token, show_id, user_id, expires_at)
    SELECT $4, $2, $5, $6 WHERE $3 = 'held'
), sold AS (
    INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
    SELECT $2, b.seat_id, $7, $8, b.hold_token, $10
    FROM unnest($1::uuid[], $9::uuid[]) AS b(seat_id, hold_token)
    WHERE $3 = 'booked'
), bump AS (
    UPDATE shows SET seq = seq + cardinality($1::uuid[]) WHERE id = $2 RETURNING seq
), logged AS (
    INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
    SELECT $2, bump.seq - cardinality($1::uuid[]) + e.n, e.seat_id, $3, e.hold_token, $7, $10
    FROM bump, unnest($1::uuid[], $11::uuid[]) WITH ORDINALITY AS e(seat_id, hold_token, n)
)
UPDATE receipts SET response = $14 WHERE scope = $12 AND key = $13`

// record is a decided change of a request's seats, for recordSQL.
type record struct {
	status    booking.Status
	holdToken string     // a hold's token
	holder    string     // a hold's user
	expiresAt *time.Time // a hold's expiry
	bookingID string     // a sale's booking
	buyer     string     // a sale's user
	// priorHolds are the holds the seats were sold from; eventHolds the hold
	// each seat's event names (nil: none).
	priorHolds, eventHolds []string
}

// queueRecord adds recordSQL for r to b, with the receipt of idem answering result.
func queueRecord(b *pgx.Batch, showID string, seatIDs []string, at time.Time, r record, idem *booking.Idempotent, result any) error {
	var scope, key any
	var response []byte
	if idem != nil {
		rc, err := idem.Receipt(result)
		if err != nil {
			return err
		}
		scope, key, response = rc.Scope, rc.Key, rc.Response
	}
	if r.eventHolds == nil {
		r.eventHolds = []string{}
	}
	b.Queue(recordSQL, seatIDs, showID, string(r.status), nullable(r.holdToken), nullable(r.holder), r.expiresAt,
		nullable(r.bookingID), nullable(r.buyer), r.priorHolds, at, r.eventHolds, scope, key, response)
	return nil
}

// Hold implements booking.SeatStore.
func (s *Store) Hold(ctx context.Context, p booking.HoldParams) (booking.Hold, error) {
	h := booking.Hold{Token: p.Token, Version: 1, UserID: p.UserID, ShowID: p.ShowID, SeatIDs: p.SeatIDs}
	var t transition
	err := s.change(ctx, func(b *pgx.Batch) {
		queueReserve(b, p.Idempotent)
		t.queue(b, p.SeatIDs, p.ShowID)
	}, func(querier) (*pgx.Batch, error) {
		if refused := t.refused(p.SeatIDs, lockedSeat.holdable); len(refused) > 0 {
			return nil, booking.SeatsUnavailable(refused)
		}
		// The database keeps microseconds; so does the expiry the client hears.
		h.ExpiresAt = t.at.Add(p.TTL.Truncate(time.Microsecond))
		for _, id := range p.SeatIDs {
			if l := t.locked[id]; l.held() {
				h.Lapsed = append(h.Lapsed, *l.expires)
			}
		}
		b := &pgx.Batch{}
		return b, queueRecord(b, p.ShowID, p.SeatIDs, t.at, record{
			status: booking.StatusHeld, holdToken: p.Token, holder: p.UserID, expiresAt: &h.ExpiresAt,
			eventHolds: repeat(p.Token, len(p.SeatIDs)),
		}, p.Idempotent, h)
	})
	if err != nil {
		return booking.Hold{}, wrap(err, "hold seats")
	}
	return h, nil
}

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
		t.queue(b, p.SeatIDs, p.ShowID)
	}, func(q querier) (*pgx.Batch, error) {
		// Held by the user under a hold that has not lapsed.
		if refused := t.refused(p.SeatIDs, func(l lockedSeat) bool { return l.heldBy(p.UserID, p.HoldToken) && !l.lapsed }); len(refused) > 0 {
			return nil, bookFailure(ctx, q, p, t.locked, refused)
		}
		bk.BookedAt = t.at
		b := &pgx.Batch{}
		return b, queueRecord(b, p.ShowID, p.SeatIDs, t.at, record{
			status: booking.StatusBooked, bookingID: p.BookingID, buyer: p.UserID, priorHolds: t.tokensOf(p.SeatIDs),
		}, p.Idempotent, bk)
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
		case l.heldBy(p.UserID, p.HoldToken) && l.lapsed:
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

// Release implements booking.SeatStore.
func (s *Store) Release(ctx context.Context, p booking.ReleaseParams) (booking.Release, error) {
	r := booking.Release{ShowID: p.ShowID}
	var t transition
	err := s.change(ctx, func(b *pgx.Batch) {
		queueReserve(b, p.Idempotent)
		t.queue(b, p.SeatIDs, p.ShowID)
	}, func(querier) (*pgx.Batch, error) {
		// Held by the user, lapsed or not.
		if refused := t.refused(p.SeatIDs, func(l lockedSeat) bool { return l.heldBy(p.UserID, p.HoldToken) }); len(refused) > 0 {
			return nil, booking.SeatsUnavailable(refused)
		}
		r.SeatIDs, r.ReleasedAt, r.HoldTokens = p.SeatIDs, t.at, t.tokensOf(p.SeatIDs)
		b := &pgx.Batch{}
		return b, queueRecord(b, p.ShowID, p.SeatIDs, t.at, record{
			status: booking.StatusAvailable, eventHolds: r.HoldTokens,
		}, p.Idempotent, r)
	})
	if err != nil {
		return booking.Release{}, wrap(err, "release seats")
	}
	return r, nil
}

// transition is what the first batch of a seat change read: each requested
// seat as locked, and the database clock once they all were.
type transition struct {
	locked map[string]lockedSeat
	at     time.Time
}

// queue adds to b the lock of seatIDs of showID; the rows land in t when the
// batch is read.
func (t *transition) queue(b *pgx.Batch, seatIDs []string, showID string) {
	t.locked = make(map[string]lockedSeat, len(seatIDs))
	b.Queue(lockSeatsSQL, seatIDs, showID).Query(func(rows pgx.Rows) error {
		var id string
		var l lockedSeat
		_, err := pgx.ForEachRow(rows, []any{&id, &l.status, &l.token, &l.holder, &l.expires, &l.lapsed, &t.at}, func() error {
			t.locked[id] = l
			return nil
		})
		return err
	})
}

// refused returns, in request order, the seats of seatIDs that may not change:
// those not locked (not of the show) and those may rejects.
func (t *transition) refused(seatIDs []string, may func(lockedSeat) bool) []string {
	var out []string
	for _, id := range seatIDs {
		if l, ok := t.locked[id]; !ok || !may(l) {
			out = append(out, id)
		}
	}
	return out
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
