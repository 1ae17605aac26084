package postgres

import (
	"cmp"
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"seatmanager/booking"
	"seatmanager/internal/batch"
)

// The transaction of one batch (see batch.go for how batches are gathered):
// claim, lock, judge, record, commit.

// claimReceiptsSQL claims the receipts of a batch's keyed changes, in key
// order: an empty answer each, filled in by the batch's write. A key whose live
// receipt exists is not returned; a concurrent claim of the same key waits here
// until the transaction that made it ends.
const claimReceiptsSQL = `
INSERT INTO receipts AS r (scope, key, fingerprint, response, created_at, expires_at)
SELECT c.scope, c.key, c.fingerprint, '', clock_timestamp(), clock_timestamp() + c.ttl_ms * interval '1 millisecond'
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS c(scope, key, fingerprint, ttl_ms)
ORDER BY c.scope, c.key
ON CONFLICT (scope, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, response = '',
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE r.expires_at <= clock_timestamp()
RETURNING r.scope, r.key`

// lockSeatsSQL locks seats in seat-id order and reads them as they are once
// locked (a blocked seat as blocked, which no change may take), with the database clock read after the last lock was granted: the
// count reads every locked row before the clock is read, however long the locks
// took. A plain UPDATE … WHERE id = ANY(…) would lock in heap order, and two
// transactions on overlapping seats would deadlock.
const lockSeatsSQL = `
WITH locked AS MATERIALIZED (
    SELECT id, show_id, CASE WHEN blocked THEN 'blocked' ELSE status END AS status, hold_token, holder, hold_expires_at
    FROM seats
    WHERE id = ANY($1::uuid[])
    ORDER BY id
    FOR NO KEY UPDATE
), now AS MATERIALIZED (
    SELECT clock_timestamp() AS t FROM (SELECT count(*) FROM locked) AS all_locked
)
SELECT l.id, l.show_id, l.status, coalesce(l.hold_token::text, ''), coalesce(l.holder, ''), l.hold_expires_at,
       coalesce(l.hold_expires_at <= now.t, false), now.t
FROM now, locked AS l`

// lockHoldersSQL takes the locks of users' holds of shows, for the
// transaction, in key order, in one statement: two batches holding for one
// capped user queue here, so the second counts what the first committed.
// Batches take these locks after their receipts and before their seats.
const lockHoldersSQL = `
SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted`

// heldByUsersSQL counts the seats each (user, show) holds, through the
// users' live holds. A statement of its own, after the locks: its snapshot
// has every hold committed before they were granted.
const heldByUsersSQL = `
SELECT u.user_id, u.show_id, count(s.id)
FROM unnest($1::text[], $2::uuid[]) AS u(user_id, show_id)
LEFT JOIN holds h ON h.user_id = u.user_id AND h.show_id = u.show_id AND h.expires_at > clock_timestamp()
LEFT JOIN seats s ON s.hold_token = h.token AND s.status = 'held' AND s.hold_expires_at > clock_timestamp()
GROUP BY u.user_id, u.show_id`

// recordSQL writes a batch's accepted changes: the seats' new state ($1–$6),
// the new holds ($7–$10), the sales ($11–$15), one event per seat changed
// ($16–$20, in the order the changes were judged) numbered below each show's
// new seq, and the receipts' answers ($22–$24); the claims of refused changes
// ($25–$26) are deleted. $21 is the batch's time; $27 the shows of the events,
// in id order, which the statement locks in that order before it bumps their
// seq (the last locks a batch takes). They stay locked until commit, so a
// show's events are numbered without gaps in commit order. Empty strings in
// the text columns stand for NULL. Each join names the rows it changes by key
// as well, so that the plan, made once for any array sizes, looks them up.
const recordSQL = `
WITH seat AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
        AS t(id, status, hold_token, holder, expires, booking_id)
), changed AS (
    UPDATE seats AS s
    SET status = seat.status, hold_token = nullif(seat.hold_token, '')::uuid, holder = nullif(seat.holder, ''),
        hold_expires_at = seat.expires, booking_id = nullif(seat.booking_id, '')::uuid, version = s.version + 1
    FROM seat
    WHERE s.id = ANY($1::uuid[]) AND s.id = seat.id
), show_locked AS MATERIALIZED (
    SELECT id FROM shows WHERE id = ANY($27::uuid[]) ORDER BY id FOR NO KEY UPDATE
), held AS (
    INSERT INTO holds (token, show_id, user_id, expires_at)
    SELECT * FROM unnest($7::uuid[], $8::uuid[], $9::text[], $10::timestamptz[])
), sold AS (
    INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
    SELECT b.show_id, b.seat_id, b.booking_id, b.user_id, nullif(b.hold_token, '')::uuid, $21
    FROM unnest($11::uuid[], $12::uuid[], $13::uuid[], $14::text[], $15::text[])
        AS b(show_id, seat_id, booking_id, user_id, hold_token)
), event AS (
    SELECT e.show_id, e.seat_id, e.status, e.hold_token, e.booking_id,
           count(*) OVER (PARTITION BY e.show_id) AS of_show,
           row_number() OVER (PARTITION BY e.show_id ORDER BY e.n) AS nth
    FROM unnest($16::uuid[], $17::uuid[], $18::text[], $19::text[], $20::text[]) WITH ORDINALITY
        AS e(show_id, seat_id, status, hold_token, booking_id, n)
), bump AS (
    UPDATE shows AS sh SET seq = sh.seq + c.n
    FROM (SELECT event.show_id, count(*) AS n FROM event JOIN show_locked ON show_locked.id = event.show_id
          GROUP BY event.show_id) AS c
    WHERE sh.id = ANY($27::uuid[]) AND sh.id = c.show_id
    RETURNING sh.id, sh.seq
), logged AS (
    INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
    SELECT event.show_id, bump.seq - event.of_show + event.nth, event.seat_id, event.status,
           nullif(event.hold_token, '')::uuid, nullif(event.booking_id, '')::uuid, $21
    FROM event JOIN bump ON bump.id = event.show_id
), unclaimed AS (
    DELETE FROM receipts AS r
    USING unnest($25::text[], $26::text[]) AS d(scope, key)
    WHERE r.scope = d.scope AND r.key = d.key
)
UPDATE receipts AS r SET response = a.response
FROM unnest($22::text[], $23::text[], $24::bytea[]) AS a(scope, key, response)
WHERE r.scope = a.scope AND r.key = a.key`

// querier runs queries inside a batch's transaction, between its round trips.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// rollback ends a transaction that must not commit. If even that fails, the
// pool discards the connection, which is still in a transaction.
func rollback(ctx context.Context, conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	conn.Exec(rctx, "ROLLBACK")
}

// batchError is the error of a batch that certainly did not commit: it failed
// before COMMIT was sent, or the server refused one of its statements (which
// aborts the transaction, COMMIT included).
type batchError struct{ err error }

func (e *batchError) Error() string { return e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

// receiptKey names a receipt.
type receiptKey struct{ scope, key string }

// tryBatch writes changes in one transaction and returns each one's outcome,
// or the error that failed the transaction.
func (s *Store) tryBatch(ctx context.Context, changes []change) ([]batch.Result[any], error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, &batchError{err}
	}
	defer conn.Release()

	// A batch has each key once (its Exclusive names see to it).
	var scopes, keys, fps []string
	var ttls []int64
	var seatIDs []string
	for _, c := range changes {
		seatIDs = append(seatIDs, c.seatIDs()...)
		if idem := c.idempotent(); idem != nil {
			scopes, keys = append(scopes, idem.Scope), append(keys, idem.Key)
			fps, ttls = append(fps, idem.Fingerprint), append(ttls, idem.TTL.Milliseconds())
		}
	}
	claimed := make(map[receiptKey]bool, len(keys))
	read := &batchRead{seats: make(map[string]lockedSeat, len(seatIDs)), held: map[holder]int{}}
	holders := cappedHolders(changes)

	b := &pgx.Batch{}
	// READ COMMITTED whatever the server's default: each statement's
	// snapshot is taken when it starts, so the held-seat count that follows
	// its holder's lock sees every hold committed before the lock.
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	if len(keys) > 0 {
		b.Queue(claimReceiptsSQL, scopes, keys, fps, ttls).Query(func(rows pgx.Rows) error {
			var k receiptKey
			_, err := pgx.ForEachRow(rows, []any{&k.scope, &k.key}, func() error {
				claimed[k] = true
				return nil
			})
			return err
		})
	}
	if len(holders) > 0 {
		users, shows, keys := make([]string, len(holders)), make([]string, len(holders)), make([]int64, len(holders))
		for i, h := range holders {
			users[i], shows[i], keys[i] = h.user, h.show, h.lockKey()
		}
		b.Queue(lockHoldersSQL, keys)
		b.Queue(heldByUsersSQL, users, shows).Query(func(rows pgx.Rows) error {
			var h holder
			var n int
			_, err := pgx.ForEachRow(rows, []any{&h.user, &h.show, &n}, func() error {
				read.held[h] = n
				return nil
			})
			return err
		})
	}
	b.Queue(lockSeatsSQL, seatIDs).Query(func(rows pgx.Rows) error {
		var id, status string
		var l lockedSeat
		_, err := pgx.ForEachRow(rows, []any{&id, &l.show, &status, &l.HoldToken, &l.Holder, &l.expires, &l.Lapsed, &read.at}, func() error {
			l.Status = booking.Status(status)
			read.seats[id] = l
			return nil
		})
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn)
		return nil, &batchError{err}
	}

	results := make([]batch.Result[any], len(changes))
	var accepted []acceptedChange
	var unclaimed []receiptKey
	for i, c := range changes {
		idem := c.idempotent()
		var k receiptKey
		if idem != nil {
			k = receiptKey{idem.Scope, idem.Key}
			if !claimed[k] {
				results[i].Err = booking.ErrDuplicateRequest
				continue
			}
		}
		wr, res, err := c.decide(ctx, conn, read)
		if _, refusal := errors.AsType[*booking.Error](err); err != nil && !refusal {
			// A query that failed aborted the transaction for every change.
			rollback(ctx, conn)
			return nil, &batchError{err}
		}
		var answer []byte
		if err == nil && idem != nil {
			var r booking.Receipt
			r, err = idem.Receipt(res)
			answer = r.Response
		}
		if err != nil {
			results[i].Err = err
			if idem != nil {
				unclaimed = append(unclaimed, k)
			}
			continue
		}
		results[i].Value = res
		a := acceptedChange{c: c, w: wr}
		if idem != nil {
			a.receipt, a.answer = &k, answer
		}
		accepted = append(accepted, a)
	}
	if len(accepted) == 0 {
		// Nothing to write: the claims go with the rollback.
		rollback(ctx, conn)
		return results, nil
	}
	b = &pgx.Batch{}
	if len(accepted) == 1 && len(unclaimed) == 0 {
		accepted[0].queueAlone(b, read.at)
	} else {
		var w batchWrite
		for _, a := range accepted {
			w.add(a.c, a.w)
			if a.receipt != nil {
				w.answer(*a.receipt, a.answer)
			}
		}
		for _, k := range unclaimed {
			w.unclaim(k)
		}
		b.Queue(recordSQL, w.seat, w.seatStatus, w.seatHold, w.seatHolder, w.seatExpires, w.seatBooking,
			w.holdToken, w.holdShow, w.holdUser, w.holdExpires,
			w.saleShow, w.saleSeat, w.saleBooking, w.saleUser, w.saleHold,
			w.eventShow, w.eventSeat, w.eventStatus, w.eventHold, w.eventBooking,
			read.at, w.answerScope, w.answerKey, w.answerResponse, w.unclaimScope, w.unclaimKey, w.shows())
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn)
		// A statement the server refused (severity ERROR) aborted the
		// transaction, COMMIT included. A FATAL one (a shutdown) ends the
		// session, and may come after COMMIT went through.
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Severity == "ERROR" {
			return nil, &batchError{err}
		}
		return nil, err
	}
	return results, nil
}

// lockKey is the advisory lock of the holder's holds: a hash, so two holders
// may share one, which only makes them wait for each other.
func (h holder) lockKey() int64 {
	f := fnv.New64a()
	f.Write([]byte(h.user))
	f.Write([]byte{0})
	f.Write([]byte(h.show))
	return int64(f.Sum64())
}

// cappedHolders returns the holders of the batch's capped holds.
func cappedHolders(changes []change) []holder {
	var out []holder
	for _, c := range changes {
		if hc, ok := c.(holdChange); ok {
			if h, ok := hc.capped(); ok {
				out = append(out, h)
			}
		}
	}
	slices.SortFunc(out, func(a, b holder) int { return cmp.Or(strings.Compare(a.user, b.user), strings.Compare(a.show, b.show)) })
	return slices.Compact(out)
}

// acceptedChange is a change the batch writes, with its receipt's answer.
type acceptedChange struct {
	c       change
	w       write
	receipt *receiptKey // nil: no Idempotency-Key
	answer  []byte
}

// recordOneSQL is recordSQL for a batch of one change, which is what most
// batches are while requests trickle in (a storm's winners, say): the same
// writes with one value per parameter, which costs the database about half
// the set-based statement's work for one change.
const recordOneSQL = `
WITH changed AS (
    UPDATE seats
    SET status = $3, hold_token = nullif($4::text, '')::uuid, holder = nullif($5::text, ''), hold_expires_at = $6,
        booking_id = nullif($7::text, '')::uuid, version = version + 1
    WHERE id = ANY($1::uuid[])
), held AS (
    INSERT INTO holds (token, show_id, user_id, expires_at)
    SELECT nullif($4::text, '')::uuid, $2, $5::text, $6 WHERE $3 = 'held'
), sold AS (
    INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
    SELECT $2, b.seat_id, nullif($7::text, '')::uuid, $8::text, b.hold_token, $10
    FROM unnest($1::uuid[], $9::uuid[]) AS b(seat_id, hold_token)
    WHERE $3 = 'booked'
), bump AS (
    UPDATE shows SET seq = seq + cardinality($1::uuid[]) WHERE id = $2 RETURNING seq
), logged AS (
    INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
    SELECT $2, bump.seq - cardinality($1::uuid[]) + e.n, e.seat_id, $3, e.hold_token, nullif($7::text, '')::uuid, $10
    FROM bump, unnest($1::uuid[], $11::uuid[]) WITH ORDINALITY AS e(seat_id, hold_token, n)
)
UPDATE receipts SET response = $14 WHERE scope = $12 AND key = $13`

// queueAlone adds recordOneSQL for a to b.
func (a acceptedChange) queueAlone(b *pgx.Batch, at time.Time) {
	var scope, key any
	if a.receipt != nil {
		scope, key = a.receipt.scope, a.receipt.key
	}
	eventHolds := a.w.eventHolds
	if eventHolds == nil {
		eventHolds = []string{}
	}
	b.Queue(recordOneSQL, a.c.seatIDs(), a.c.showID(), string(a.w.status), a.w.holdToken, a.w.holder,
		a.w.expiresAt, a.w.bookingID, a.w.buyer, a.w.priorHolds, at, eventHolds, scope, key, a.answer)
}

// batchWrite gathers the accepted changes of a batch as recordSQL's arrays.
type batchWrite struct {
	seat, seatStatus, seatHold, seatHolder, seatBooking        []string
	seatExpires                                                []pgtype.Timestamptz
	holdToken, holdShow, holdUser                              []string
	holdExpires                                                []time.Time
	saleShow, saleSeat, saleBooking, saleUser, saleHold        []string
	eventShow, eventSeat, eventStatus, eventHold, eventBooking []string
	answerScope, answerKey                                     []string
	answerResponse                                             [][]byte
	unclaimScope, unclaimKey                                   []string
}

// add adds an accepted change's seats, hold or sale, and events.
func (w *batchWrite) add(c change, wr write) {
	show := c.showID()
	expires := pgtype.Timestamptz{}
	if wr.expiresAt != nil {
		expires = pgtype.Timestamptz{Time: *wr.expiresAt, Valid: true}
	}
	for i, id := range c.seatIDs() {
		w.seat = append(w.seat, id)
		w.seatStatus = append(w.seatStatus, string(wr.status))
		w.seatHold = append(w.seatHold, wr.holdToken)
		w.seatHolder = append(w.seatHolder, wr.holder)
		w.seatExpires = append(w.seatExpires, expires)
		w.seatBooking = append(w.seatBooking, wr.bookingID)
		eventHold := ""
		if wr.eventHolds != nil {
			eventHold = wr.eventHolds[i]
		}
		w.eventShow = append(w.eventShow, show)
		w.eventSeat = append(w.eventSeat, id)
		w.eventStatus = append(w.eventStatus, string(wr.status))
		w.eventHold = append(w.eventHold, eventHold)
		w.eventBooking = append(w.eventBooking, wr.bookingID)
		if wr.status == booking.StatusBooked {
			w.saleShow = append(w.saleShow, show)
			w.saleSeat = append(w.saleSeat, id)
			w.saleBooking = append(w.saleBooking, wr.bookingID)
			w.saleUser = append(w.saleUser, wr.buyer)
			w.saleHold = append(w.saleHold, wr.priorHolds[i])
		}
	}
	if wr.status == booking.StatusHeld {
		w.holdToken = append(w.holdToken, wr.holdToken)
		w.holdShow = append(w.holdShow, show)
		w.holdUser = append(w.holdUser, wr.holder)
		w.holdExpires = append(w.holdExpires, *wr.expiresAt)
	}
}

// answer records the answer of an accepted change's receipt.
func (w *batchWrite) answer(k receiptKey, response []byte) {
	w.answerScope = append(w.answerScope, k.scope)
	w.answerKey = append(w.answerKey, k.key)
	w.answerResponse = append(w.answerResponse, response)
}

// unclaim records the claim of a refused change, to be deleted.
func (w *batchWrite) unclaim(k receiptKey) {
	w.unclaimScope = append(w.unclaimScope, k.scope)
	w.unclaimKey = append(w.unclaimKey, k.key)
}

// shows returns the shows the batch writes events for, in id order.
func (w *batchWrite) shows() []string {
	shows := slices.Clone(w.eventShow)
	slices.Sort(shows)
	return slices.Compact(shows)
}
