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
//
// Ids travel as text[] and the server casts them ($1::text[]::uuid[]), here
// and in every statement of the store: pgx has no binary encoding of a
// []string as uuid[] and writes it out as an array literal instead, at three
// times the cost of a text[] (BenchmarkEncodeIDs).

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
    WHERE id = ANY($1::text[]::uuid[])
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

// heldByUsersSQL counts the seats each (user, show) holds and has not let
// lapse, by seats_holder_idx. A statement of its own, after the locks: its
// snapshot has every hold committed before they were granted.
const heldByUsersSQL = `
SELECT u.user_id, u.show_id, count(s.id)
FROM unnest($1::text[], $2::text[]::uuid[]) AS u(user_id, show_id)
LEFT JOIN seats s ON s.holder = u.user_id AND s.show_id = u.show_id
    AND s.status = 'held' AND s.hold_expires_at > clock_timestamp()
GROUP BY u.user_id, u.show_id`

// The writes of a batch's accepted changes, one small statement each, sent
// together with COMMIT in one round trip (see batchWrite.queue). The events
// go last: lockShowsSQL locks the shows whose seq logEventsSQL bumps, and a
// show's batches queue for that lock one after another until each commits,
// so it is taken once everything else is written, and held for the commit
// alone.

// updateSeatsSQL sets each seat's new state. Empty strings in the text
// columns stand for NULL. The key is named as well as joined, so that the
// plan, made once for any array sizes, looks the rows up.
const updateSeatsSQL = `
UPDATE seats AS s
SET status = c.status, hold_token = nullif(c.hold_token, '')::uuid, holder = nullif(c.holder, ''),
    hold_expires_at = c.expires, booking_id = nullif(c.booking_id, '')::uuid, version = s.version + 1
FROM unnest($1::text[]::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
    AS c(id, status, hold_token, holder, expires, booking_id)
WHERE s.id = ANY($1::text[]::uuid[]) AND s.id = c.id`

// insertHoldsSQL records new holds.
const insertHoldsSQL = `
INSERT INTO holds (token, show_id, user_id, expires_at)
SELECT * FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[], $4::timestamptz[])`

// insertSalesSQL records sold seats, at the batch's time ($6).
const insertSalesSQL = `
INSERT INTO bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at)
SELECT b.show_id, b.seat_id, b.booking_id, b.user_id, nullif(b.hold_token, '')::uuid, $6
FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[], $4::text[], $5::text[]) AS b(show_id, seat_id, booking_id, user_id, hold_token)`

// answerReceiptsSQL fills in the answers of the receipts the batch claimed.
const answerReceiptsSQL = `
UPDATE receipts AS r SET response = a.response
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS a(scope, key, response)
WHERE r.scope = a.scope AND r.key = a.key`

// unclaimReceiptsSQL deletes the claims of refused changes.
const unclaimReceiptsSQL = `
DELETE FROM receipts AS r
USING unnest($1::text[], $2::text[]) AS d(scope, key)
WHERE r.scope = d.scope AND r.key = d.key`

// lockShowsSQL locks the shows of a batch's events in id order, the last
// locks it takes. They stay until commit, so a show's events are numbered
// without gaps in commit order. A statement of its own: in the one that bumps
// the seq, the plan decides whether the lock or the update comes first.
const lockShowsSQL = `
SELECT count(*) FROM (SELECT id FROM shows WHERE id = ANY($1::text[]::uuid[]) ORDER BY id FOR NO KEY UPDATE) AS locked`

// logEventsSQL appends one event per seat changed ($1–$5, in the order the
// changes were judged, at the batch's time $6), numbered after each show's
// seq, which it bumps.
const logEventsSQL = `
WITH event AS (
    SELECT e.show_id, e.seat_id, e.status, e.hold_token, e.booking_id,
           count(*) OVER (PARTITION BY e.show_id) AS of_show,
           row_number() OVER (PARTITION BY e.show_id ORDER BY e.n) AS nth
    FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
        AS e(show_id, seat_id, status, hold_token, booking_id, n)
), bump AS (
    UPDATE shows AS sh SET seq = sh.seq + c.n
    FROM (SELECT show_id, count(*) AS n FROM event GROUP BY show_id) AS c
    WHERE sh.id = ANY($7::text[]::uuid[]) AND sh.id = c.show_id
    RETURNING sh.id, sh.seq
)
INSERT INTO seat_events (show_id, seq, seat_id, status, hold_token, booking_id, at)
SELECT event.show_id, bump.seq - event.of_show + event.nth, event.seat_id, event.status,
       nullif(event.hold_token, '')::uuid, nullif(event.booking_id, '')::uuid, $6
FROM event JOIN bump ON bump.id = event.show_id`

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
		a := acceptedChange{c: c, w: wr, result: i}
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
	w := batchWrite{at: read.at}
	for _, a := range accepted {
		w.add(a.c, a.w)
		if a.receipt != nil {
			w.answer(*a.receipt, a.answer)
		}
	}
	for _, k := range unclaimed {
		w.unclaim(k)
	}
	b = &pgx.Batch{}
	w.queue(b)
	ended := w.queueEnded(b)
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
	for _, a := range accepted {
		results[a.result].Value = withEnded(results[a.result].Value, a.w, ended)
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
	result  int         // its place in the batch's results
	receipt *receiptKey // nil: no Idempotency-Key
	answer  []byte
}

// batchWrite gathers the accepted changes of a batch as its statements' arrays.
type batchWrite struct {
	at                                                         time.Time
	seat, seatStatus, seatHold, seatHolder, seatBooking        []string
	seatExpires                                                []pgtype.Timestamptz
	holdToken, holdShow, holdUser                              []string
	holdExpires                                                []time.Time
	saleShow, saleSeat, saleBooking, saleUser, saleHold        []string
	eventShow, eventSeat, eventStatus, eventHold, eventBooking []string
	answerScope, answerKey                                     []string
	answerResponse                                             [][]byte
	unclaimScope, unclaimKey                                   []string
	freedHolds                                                 []string // the holds books and releases took seats from
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
	if wr.status != booking.StatusHeld {
		for _, t := range slices.Concat(wr.priorHolds, wr.eventHolds) {
			if t != "" {
				w.freedHolds = append(w.freedHolds, t)
			}
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

// queue adds the statements of the writes to b, each only if it has rows to
// write, the events last.
func (w *batchWrite) queue(b *pgx.Batch) {
	b.Queue(updateSeatsSQL, w.seat, w.seatStatus, w.seatHold, w.seatHolder, w.seatExpires, w.seatBooking)
	if len(w.holdToken) > 0 {
		b.Queue(insertHoldsSQL, w.holdToken, w.holdShow, w.holdUser, w.holdExpires)
	}
	if len(w.saleSeat) > 0 {
		b.Queue(insertSalesSQL, w.saleShow, w.saleSeat, w.saleBooking, w.saleUser, w.saleHold, w.at)
	}
	if len(w.answerKey) > 0 {
		b.Queue(answerReceiptsSQL, w.answerScope, w.answerKey, w.answerResponse)
	}
	if len(w.unclaimKey) > 0 {
		b.Queue(unclaimReceiptsSQL, w.unclaimScope, w.unclaimKey)
	}
	shows := w.shows()
	b.Queue(lockShowsSQL, shows)
	b.Queue(logEventsSQL, w.eventShow, w.eventSeat, w.eventStatus, w.eventHold, w.eventBooking, w.at, shows)
}

// endedHoldsSQL returns those of the holds $1 that have no seat left: the
// batch's books and releases ended them.
const endedHoldsSQL = `
SELECT t FROM unnest($1::text[]) AS t
WHERE NOT EXISTS (SELECT 1 FROM seats WHERE hold_token = t::uuid AND status = 'held')`

// queueEnded adds to b, after the writes, the look for the holds that the
// batch's books and releases left without seats, and returns where their
// tokens will be once b has run.
func (w *batchWrite) queueEnded(b *pgx.Batch) map[string]bool {
	ended := map[string]bool{}
	if len(w.freedHolds) == 0 {
		return ended
	}
	holds := slices.Compact(slices.Sorted(slices.Values(w.freedHolds)))
	b.Queue(endedHoldsSQL, holds).Query(func(rows pgx.Rows) error {
		var t string
		_, err := pgx.ForEachRow(rows, []any{&t}, func() error { ended[t] = true; return nil })
		return err
	})
	return ended
}

// withEnded sets the holds a book or release ended in its result.
func withEnded(v any, wr write, ended map[string]bool) any {
	var out []string
	for _, t := range slices.Concat(wr.priorHolds, wr.eventHolds) {
		if ended[t] && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	switch r := v.(type) {
	case booking.Booking:
		r.Ended = out
		return r
	case booking.Release:
		r.Ended = out
		return r
	}
	return v
}

// shows returns the shows the batch writes events for, in id order.
func (w *batchWrite) shows() []string {
	shows := slices.Clone(w.eventShow)
	slices.Sort(shows)
	return slices.Compact(shows)
}
