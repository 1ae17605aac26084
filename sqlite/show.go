package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/batch"
)

// availableSQL is the status a seat shows buyers: a hold past its expiry counts as
// available before anything releases it. Its one parameter is the current time.
const availableSQL = `(s.blocked = 0 AND (s.status = 'available' OR (s.status = 'held' AND s.hold_expires_at <= ?)))`

const showsSQL = `
SELECT sh.id, sh.movie_title, sh.starts_at, sh.auditorium,
       count(s.id), count(s.id) FILTER (WHERE ` + availableSQL + `)
FROM shows sh LEFT JOIN seats s ON s.show_id = sh.id
GROUP BY sh.id
ORDER BY sh.starts_at, sh.id`

// Shows implements booking.Catalog.
func (s *Store) Shows(ctx context.Context) ([]booking.Show, error) {
	var shows []booking.Show
	err := s.inReadTx(ctx, func(tx *txn, now int64) error {
		rows, err := tx.QueryContext(ctx, showsSQL, now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sh booking.Show
			var startsAt int64
			if err := rows.Scan(&sh.ID, &sh.MovieTitle, &startsAt, &sh.Auditorium, &sh.SeatsTotal, &sh.SeatsAvailable); err != nil {
				return err
			}
			sh.StartsAt = time.UnixMilli(startsAt).UTC()
			shows = append(shows, sh)
		}
		return rows.Err()
	})
	return shows, wrap(err, "list shows")
}

const seatMapSQL = `
SELECT s.id, s.row_label, s.number, s.category, s.accessible, s.x,
       CASE WHEN s.blocked = 1 THEN 'blocked' WHEN ` + availableSQL + ` THEN 'available' ELSE s.status END
FROM seats s
WHERE s.show_id = ?
ORDER BY length(s.row_label), s.row_label, s.number`

// SeatMap implements booking.Catalog. The seq and the seats are read in one
// transaction, so the seq is exactly the last event the statuses include.
func (s *Store) SeatMap(ctx context.Context, showID string) (booking.SeatMap, error) {
	m := booking.SeatMap{ShowID: showID}
	err := s.inReadTx(ctx, func(tx *txn, now int64) error {
		if err := tx.QueryRowContext(ctx, "SELECT seq FROM shows WHERE id = ?", showID).Scan(&m.Seq); err != nil {
			if err == sql.ErrNoRows {
				return booking.NotFoundf("no show %s", showID)
			}
			return err
		}
		rows, err := tx.QueryContext(ctx, seatMapSQL, now, showID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			seat := booking.Seat{ShowID: showID}
			if err := rows.Scan(&seat.ID, &seat.Row, &seat.Number, &seat.Category, &seat.Accessible, &seat.X, &seat.Status); err != nil {
				return err
			}
			seat.Label = booking.SeatLabel(seat.Row, seat.Number)
			m.Seats = append(m.Seats, seat)
		}
		return rows.Err()
	})
	return m, wrap(err, "read seat map")
}

// SeatShows implements booking.Catalog.
func (s *Store) SeatShows(ctx context.Context, seatIDs []string) (map[string]booking.SeatRef, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT id, show_id, row_label, number FROM seats WHERE "+seatsIn, jsonArray(seatIDs))
	if err != nil {
		return nil, wrap(err, "find seats")
	}
	defer rows.Close()
	refs := make(map[string]booking.SeatRef, len(seatIDs))
	for rows.Next() {
		var id, show, row string
		var number int
		if err := rows.Scan(&id, &show, &row, &number); err != nil {
			return nil, wrap(err, "find seats")
		}
		refs[id] = booking.SeatRef{ShowID: show, Label: booking.SeatLabel(row, number)}
	}
	return refs, wrap(rows.Err(), "find seats")
}

// CreateShow adds a show and its seats. It reports false, changing nothing, if a
// show with that id exists already, so concurrent seeding of the same show is safe.
func (s *Store) CreateShow(ctx context.Context, show booking.NewShow) (bool, error) {
	var created bool
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO shows (id, movie_title, starts_at, auditorium, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			show.ID, show.MovieTitle, show.StartsAt.UnixMilli(), show.Auditorium, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		created = true
		// One statement per seat: a single INSERT … SELECT FROM json_each
		// of them all was no faster (3 s for 100,000 seats), and six times
		// slower under the race detector.
		for _, seat := range show.Seats {
			if _, err := tx.ExecContext(ctx, "INSERT INTO seats (id, show_id, row_label, number, category, accessible, x) VALUES (?, ?, ?, ?, ?, ?, ?)",
				seat.ID, show.ID, seat.Row, seat.Number, seat.Category, seat.Accessible, seat.Column()); err != nil {
				return err
			}
		}
		return insertReceipt(ctx, tx, now, show.Idempotent, show.Created())
	})
	return created, wrap(err, "create show")
}

// eventsSQL reads a show's events after a seq, by its primary key.
const eventsSQL = `
	SELECT seq, seat_id, status, coalesce(hold_token, ''), coalesce(booking_id, ''), at
	FROM seat_events WHERE show_id = ? AND seq > ? ORDER BY seq LIMIT ?`

// Events returns up to limit events of a show with seq greater than afterSeq, in order.
func (s *Store) Events(ctx context.Context, showID string, afterSeq int64, limit int) ([]booking.Event, error) {
	rows, err := s.read.QueryContext(ctx, eventsSQL, showID, afterSeq, limit)
	if err != nil {
		return nil, wrap(err, "read events")
	}
	defer rows.Close()
	var events []booking.Event
	for rows.Next() {
		e := booking.Event{ShowID: showID}
		var at int64
		if err := rows.Scan(&e.Seq, &e.SeatID, &e.Status, &e.HoldToken, &e.BookingID, &at); err != nil {
			return nil, wrap(err, "read events")
		}
		e.At = time.UnixMilli(at).UTC()
		events = append(events, e)
	}
	return events, wrap(rows.Err(), "read events")
}

// PruneEvents deletes the events logged before before, and reports how many.
// A show's events are logged in seq order, so those to delete are the first
// of each show, up to the first to keep.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		shows, err := queryStrings(ctx, tx, "SELECT id FROM shows")
		if err != nil {
			return err
		}
		for _, show := range shows {
			res, err := tx.ExecContext(ctx, `DELETE FROM seat_events WHERE show_id = ?1 AND seq < coalesce(
				(SELECT seq FROM seat_events WHERE show_id = ?1 AND at >= ?2 ORDER BY seq LIMIT 1),
				(SELECT seq + 1 FROM shows WHERE id = ?1))`, show, before.UnixMilli())
			if err != nil {
				return err
			}
			deleted, _ := res.RowsAffected()
			n += deleted
		}
		return nil
	})
	return int(n), wrap(err, "prune events")
}

// ShowSeq implements booking.Catalog.
func (s *Store) ShowSeq(ctx context.Context, showID string) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, "SELECT seq FROM shows WHERE id = ?", showID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, booking.NotFoundf("no show %s", showID)
	}
	return seq, wrap(err, "read show seq")
}

// Reset deletes every show and everything of them (seats, holds, bookings,
// events), and every stored answer: a demo or load-test database starts afresh.
func (s *Store) Reset(ctx context.Context) error {
	return wrap(s.inTx(ctx, func(tx *txn, now int64) error {
		return tx.execScript(ctx, "DELETE FROM seat_events; DELETE FROM bookings; DELETE FROM holds; DELETE FROM seats; DELETE FROM shows; DELETE FROM receipts;")
	}), "reset")
}

// inReadTx runs fn in a read transaction, giving it the database clock: one
// snapshot, one notion of now.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *txn, now int64) error) error {
	sqlTx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	tx := &txn{tx: sqlTx}
	now, err := s.now(ctx, tx)
	if err != nil {
		return err
	}
	return fn(tx, now)
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

// takenSQL reads the seats of a JSON array that are not free: their show,
// who holds or bought them, and when a hold lapses.
const takenSQL = `
SELECT s.id, s.show_id, coalesce(CASE WHEN s.blocked THEN '' WHEN s.status = 'held' THEN s.holder ELSE b.user_id END, ''),
       CASE WHEN s.status = 'held' AND NOT s.blocked THEN s.hold_expires_at END
FROM seats s LEFT JOIN bookings b ON s.status = 'booked' AND b.show_id = s.show_id AND b.seat_id = s.id
WHERE s.id IN (SELECT value FROM json_each(?)) AND NOT ` + availableSQL

// readTaken returns the seats of seatIDs that are held, booked or blocked now.
func (s *Store) readTaken(ctx context.Context, seatIDs []string) (map[string]booking.Taken, error) {
	taken := make(map[string]booking.Taken)
	err := s.inReadTx(ctx, func(tx *txn, now int64) error {
		rows, err := tx.QueryContext(ctx, takenSQL, jsonArray(seatIDs), now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var t booking.Taken
			var until sql.NullInt64
			if err := rows.Scan(&id, &t.ShowID, &t.UserID, &until); err != nil {
				return err
			}
			if until.Valid {
				t.Until = time.UnixMilli(until.Int64)
			}
			taken[id] = t
		}
		return rows.Err()
	})
	return taken, err
}
