package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"seatmanager/booking"
	"seatmanager/internal/batch"
)

// availableSQL is the status a seat shows buyers: a hold past its expiry counts as
// available before anything releases it.
const availableSQL = `(NOT s.blocked AND (s.status = 'available' OR (s.status = 'held' AND s.hold_expires_at <= clock_timestamp())))`

const showsSQL = `
SELECT sh.id, sh.movie_title, sh.starts_at, sh.auditorium,
       count(s.id), count(s.id) FILTER (WHERE ` + availableSQL + `)
FROM shows sh LEFT JOIN seats s ON s.show_id = sh.id
GROUP BY sh.id
ORDER BY sh.starts_at, sh.id`

// Shows implements booking.Catalog.
func (s *Store) Shows(ctx context.Context) ([]booking.Show, error) {
	rows, err := s.pool.Query(ctx, showsSQL)
	if err != nil {
		return nil, wrap(err, "list shows")
	}
	shows, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.Show, error) {
		var sh booking.Show
		err := row.Scan(&sh.ID, &sh.MovieTitle, &sh.StartsAt, &sh.Auditorium, &sh.SeatsTotal, &sh.SeatsAvailable)
		return sh, err
	})
	return shows, wrap(err, "list shows")
}

// seatMapSQL reads the show's seq and its seats in one statement, hence one
// snapshot: the seq is exactly the last event the statuses include.
const seatMapSQL = `
SELECT sh.seq, s.id, s.row_label, s.number, s.category, s.accessible, s.x,
       CASE WHEN s.blocked THEN 'blocked' WHEN ` + availableSQL + ` THEN 'available' ELSE s.status END
FROM shows sh LEFT JOIN seats s ON s.show_id = sh.id
WHERE sh.id = $1
ORDER BY length(s.row_label), s.row_label, s.number`

// SeatMap implements booking.Catalog.
func (s *Store) SeatMap(ctx context.Context, showID string) (booking.SeatMap, error) {
	m := booking.SeatMap{ShowID: showID}
	rows, err := s.pool.Query(ctx, seatMapSQL, showID)
	if err != nil {
		return m, wrap(err, "read seat map")
	}
	var found bool
	var seat struct {
		id, row, category, status *string
		number, x                 *int
		accessible                *bool
	}
	_, err = pgx.ForEachRow(rows, []any{&m.Seq, &seat.id, &seat.row, &seat.number, &seat.category, &seat.accessible, &seat.x, &seat.status}, func() error {
		found = true
		if seat.id == nil { // a show without seats
			return nil
		}
		m.Seats = append(m.Seats, booking.Seat{
			ID: *seat.id, ShowID: showID, Row: *seat.row, Number: *seat.number,
			Label: booking.SeatLabel(*seat.row, *seat.number), Category: *seat.category,
			Status: booking.Status(*seat.status), Accessible: *seat.accessible, X: *seat.x,
		})
		return nil
	})
	if err != nil {
		return m, wrap(err, "read seat map")
	}
	if !found {
		return m, booking.NotFoundf("no show %s", showID)
	}
	return m, nil
}

// SeatShows implements booking.Catalog.
func (s *Store) SeatShows(ctx context.Context, seatIDs []string) (map[string]booking.SeatRef, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, show_id, row_label, number FROM seats WHERE id = ANY($1::text[]::uuid[])", seatIDs)
	if err != nil {
		return nil, wrap(err, "find seats")
	}
	refs := make(map[string]booking.SeatRef, len(seatIDs))
	var id, show, row string
	var number int
	_, err = pgx.ForEachRow(rows, []any{&id, &show, &row, &number}, func() error {
		refs[id] = booking.SeatRef{ShowID: show, Label: booking.SeatLabel(row, number)}
		return nil
	})
	return refs, wrap(err, "find seats")
}

const insertShowSQL = `
INSERT INTO shows (id, movie_title, starts_at, auditorium) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO NOTHING`

const insertSeatsSQL = `
INSERT INTO seats (id, show_id, row_label, number, category, accessible, x)
SELECT id, $1, row_label, number, category, accessible, x
FROM unnest($2::text[]::uuid[], $3::text[], $4::int[], $5::text[], $6::boolean[], $7::int[])
    AS t(id, row_label, number, category, accessible, x)`

// CreateShow adds a show and its seats. It reports false, changing nothing, if a
// show with that id exists already, so concurrent seeding of the same show is safe.
func (s *Store) CreateShow(ctx context.Context, show booking.NewShow) (bool, error) {
	var created bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertShowSQL, show.ID, show.MovieTitle, show.StartsAt, show.Auditorium)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		created = true
		n := len(show.Seats)
		ids, rowLabels, numbers, categories := make([]string, n), make([]string, n), make([]int32, n), make([]string, n)
		accessible, xs := make([]bool, n), make([]int32, n)
		for i, seat := range show.Seats {
			ids[i], rowLabels[i], numbers[i], categories[i] = seat.ID, seat.Row, int32(seat.Number), seat.Category
			accessible[i], xs[i] = seat.Accessible, int32(seat.Column())
		}
		b := &pgx.Batch{}
		b.Queue(insertSeatsSQL, show.ID, ids, rowLabels, numbers, categories, accessible, xs)
		if err := queueReceipt(b, show.Idempotent, show.Created()); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if created && err == nil {
		s.showsCreated()
	}
	return created, wrap(err, "create show")
}

// Reset deletes every show and everything of them (seats, holds, bookings,
// events), and every stored answer: a demo or load-test database starts afresh.
func (s *Store) Reset(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "TRUNCATE seat_events, bookings, holds, seats, shows, receipts")
	return wrap(err, "reset")
}

// pruneEventsSQL deletes the events logged before $1. A show's events are
// logged in seq order, so those to delete are the first of each show: the
// primary key finds the first to keep, reading only those before it.
const pruneEventsSQL = `
DELETE FROM seat_events AS e
USING (
    SELECT sh.id, coalesce((SELECT k.seq FROM seat_events k WHERE k.show_id = sh.id AND k.at >= $1
                            ORDER BY k.seq LIMIT 1), sh.seq + 1) AS keep
    FROM shows sh
) AS c
WHERE e.show_id = c.id AND e.seq < c.keep`

// PruneEvents deletes the events logged before before, and reports how many.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, pruneEventsSQL, before)
	return int(tag.RowsAffected()), wrap(err, "prune events")
}

// ShowSeq implements booking.Catalog.
func (s *Store) ShowSeq(ctx context.Context, showID string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, "SELECT seq FROM shows WHERE id = $1", showID).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, booking.NotFoundf("no show %s", showID)
	}
	return seq, wrap(err, "read show seq")
}

const eventsSQL = `
SELECT seq, seat_id, status, coalesce(hold_token::text, ''), coalesce(booking_id::text, ''), at
FROM seat_events
WHERE show_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3`

// Events returns up to limit events of a show with seq greater than afterSeq, in order.
func (s *Store) Events(ctx context.Context, showID string, afterSeq int64, limit int) ([]booking.Event, error) {
	rows, err := s.pool.Query(ctx, eventsSQL, showID, afterSeq, limit)
	if err != nil {
		return nil, wrap(err, "read events")
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.Event, error) {
		e := booking.Event{ShowID: showID}
		err := row.Scan(&e.Seq, &e.SeatID, &e.Status, &e.HoldToken, &e.BookingID, &e.At)
		return e, err
	})
	return events, wrap(err, "read events")
}

// TakenSeats implements booking.Catalog. The seat gate asks it to confirm
// refusals, so concurrent calls share one read (see readTaken).
func (s *Store) TakenSeats(ctx context.Context, seatIDs []string) (map[string]booking.Taken, error) {
	taken, err := s.taken.Get(ctx, seatIDs)
	if errors.Is(err, batch.ErrClosed) {
		err = errClosed
	}
	return taken, wrap(err, "read seat statuses")
}

// takenSQL reads the seats of $1 that are not free: their show, who holds
// or bought them, and when a hold lapses.
const takenSQL = `
SELECT s.id, s.show_id, coalesce(CASE WHEN s.blocked THEN '' WHEN s.status = 'held' THEN s.holder ELSE b.user_id END, ''),
       CASE WHEN s.status = 'held' AND NOT s.blocked THEN s.hold_expires_at END
FROM seats s LEFT JOIN bookings b ON s.status = 'booked' AND b.show_id = s.show_id AND b.seat_id = s.id
WHERE s.id = ANY($1::text[]::uuid[]) AND NOT ` + availableSQL

// readTaken returns the seats of seatIDs that are held, booked or blocked now.
func (s *Store) readTaken(ctx context.Context, seatIDs []string) (map[string]booking.Taken, error) {
	rows, err := s.pool.Query(ctx, takenSQL, seatIDs)
	if err != nil {
		return nil, err
	}
	taken := make(map[string]booking.Taken)
	var id string
	var t booking.Taken
	var until pgtype.Timestamptz
	_, err = pgx.ForEachRow(rows, []any{&id, &t.ShowID, &t.UserID, &until}, func() error {
		t.Until = until.Time
		taken[id] = t
		return nil
	})
	return taken, err
}
