package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"seatmanager/booking"
)

// salesSQL reads bookings with their shows and their seats' labels, in
// seat-map order within each booking, newest booking first.
const salesSQL = `
SELECT b.booking_id, b.user_id, b.booked_at, b.cancelled_at, sh.id, sh.movie_title, sh.starts_at, sh.auditorium, s.id, s.row_label, s.number
FROM (SELECT booking_id, user_id, booked_at, NULL::timestamptz AS cancelled_at, show_id, seat_id FROM bookings
      UNION ALL
      SELECT booking_id, user_id, booked_at, cancelled_at, show_id, seat_id FROM cancelled_bookings) AS b
JOIN seats s ON s.id = b.seat_id JOIN shows sh ON sh.id = b.show_id
WHERE b.booking_id = ANY($1::text[]::uuid[])
ORDER BY b.booking_id DESC, length(s.row_label), s.row_label, s.number`

// userSalesSQL finds a page of a user's booking ids, newest first.
const userSalesSQL = `
SELECT DISTINCT booking_id FROM bookings
WHERE user_id = $1 AND ($2::uuid IS NULL OR booking_id < $2::uuid)
ORDER BY booking_id DESC LIMIT $3`

// Sale implements booking.SaleStore.
func (s *Store) Sale(ctx context.Context, bookingID string) (booking.Sale, error) {
	sales, err := s.sales(ctx, []string{bookingID})
	if err != nil {
		return booking.Sale{}, wrap(err, "read booking")
	}
	if len(sales) == 0 {
		return booking.Sale{}, booking.NotFoundf("no booking %s", bookingID)
	}
	return sales[0], nil
}

// Sales implements booking.SaleStore.
func (s *Store) Sales(ctx context.Context, userID, before string, limit int) ([]booking.Sale, error) {
	var cursor *string
	if before != "" {
		cursor = &before
	}
	rows, err := s.pool.Query(ctx, userSalesSQL, userID, cursor, limit)
	if err != nil {
		return nil, wrap(err, "list bookings")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(err, "list bookings")
	}
	sales, err := s.sales(ctx, ids)
	return sales, wrap(err, "list bookings")
}

func (s *Store) sales(ctx context.Context, ids []string) ([]booking.Sale, error) {
	return readSales(ctx, s.pool, ids)
}

// readSales reads the bookings of ids, live or cancelled.
func readSales(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, ids []string) ([]booking.Sale, error) {
	rows, err := q.Query(ctx, salesSQL, ids)
	if err != nil {
		return nil, err
	}
	var out []booking.Sale
	var sale booking.Sale
	var seat, row string
	var number int
	var cancelled pgtype.Timestamptz
	_, err = pgx.ForEachRow(rows, []any{&sale.ID, &sale.UserID, &sale.BookedAt, &cancelled, &sale.Show.ID, &sale.Show.MovieTitle,
		&sale.Show.StartsAt, &sale.Show.Auditorium, &seat, &row, &number}, func() error {
		if len(out) == 0 || out[len(out)-1].ID != sale.ID {
			sale.ShowID, sale.SeatIDs, sale.Labels, sale.CancelledAt = sale.Show.ID, nil, nil, cancelled.Time
			out = append(out, sale)
		}
		last := &out[len(out)-1]
		last.SeatIDs = append(last.SeatIDs, seat)
		last.Labels = append(last.Labels, booking.SeatLabel(row, number))
		return nil
	})
	return out, err
}

// lockSaleSQL locks the seats of a live booking, in seat-id order as every
// seat change does, and reads the booking with whether its show has started.
const lockSaleSQL = `
WITH locked AS MATERIALIZED (
    SELECT s.id FROM seats s WHERE s.booking_id = $1 ORDER BY s.id FOR NO KEY UPDATE
)
SELECT b.show_id, b.user_id, sh.starts_at <= clock_timestamp()
FROM bookings b JOIN shows sh ON sh.id = b.show_id
WHERE b.booking_id = $1 AND b.seat_id IN (SELECT id FROM locked)
LIMIT 1`

// cancelSQL moves a booking's rows to cancelled_bookings and frees its seats;
// the events are appended after it, below the show's new seq (queueEvents).
const cancelSQL = `
WITH gone AS (
    DELETE FROM bookings WHERE booking_id = $1
    RETURNING show_id, seat_id, booking_id, user_id, hold_token, booked_at
), kept AS (
    INSERT INTO cancelled_bookings (show_id, seat_id, booking_id, user_id, hold_token, booked_at, cancelled_at, cancelled_by)
    SELECT show_id, seat_id, booking_id, user_id, hold_token, booked_at, clock_timestamp(), $2 FROM gone
)
UPDATE seats AS s SET status = 'available', booking_id = NULL, version = s.version + 1
FROM gone WHERE s.id = gone.seat_id
RETURNING s.id`

// Cancel implements booking.SaleStore.
func (s *Store) Cancel(ctx context.Context, p booking.CancelParams) (booking.Sale, error) {
	var sale booking.Sale
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var started bool
		err := tx.QueryRow(ctx, lockSaleSQL, p.BookingID).Scan(&sale.ShowID, &sale.UserID, &started)
		if errors.Is(err, pgx.ErrNoRows) {
			// Not live: cancelled already, or never made.
			if sale, err = s.Sale(ctx, p.BookingID); err != nil {
				return err
			}
			return booking.CheckCancel(sale, p, false)
		}
		if err != nil {
			return err
		}
		sale.ID = p.BookingID
		if err := booking.CheckCancel(sale, p, started); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, cancelSQL, p.BookingID, p.UserID)
		if err != nil {
			return err
		}
		freed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err == nil && len(freed) == 0 {
			err = errors.New("a live booking freed no seat") // the seat locks make this impossible
		}
		if err != nil {
			return err
		}
		slices.Sort(freed)
		sales, err := readSales(ctx, tx, []string{p.BookingID})
		if err != nil || len(sales) == 0 {
			return cmp.Or(err, errors.New("cancelled booking not found in its own transaction"))
		}
		sale = sales[0]
		b := &pgx.Batch{}
		// The freed seats' events, at the cancellation's time; the show's lock last.
		queueEvents(b, sale.ShowID, event{status: booking.StatusAvailable, bookingID: p.BookingID, at: sale.CancelledAt}, freed, nil)
		if err := queueReceipt(b, p.Idempotent, sale); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return booking.Sale{}, wrap(err, "cancel booking")
	}
	return sale, nil
}
