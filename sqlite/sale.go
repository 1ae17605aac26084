package sqlite

import (
	"context"
	"slices"
	"time"

	"seatmanager/booking"
)

// salesSQL reads bookings with their shows and their seats' labels, in
// seat-map order within each booking, newest booking first.
const salesSQL = `
SELECT b.booking_id, b.user_id, b.booked_at, b.cancelled_at, sh.id, sh.movie_title, sh.starts_at, sh.auditorium, s.id, s.row_label, s.number
FROM (SELECT booking_id, user_id, booked_at, 0 AS cancelled_at, show_id, seat_id FROM bookings
      UNION ALL
      SELECT booking_id, user_id, booked_at, cancelled_at, show_id, seat_id FROM cancelled_bookings) AS b
JOIN seats s ON s.id = b.seat_id JOIN shows sh ON sh.id = b.show_id
WHERE b.booking_id IN (SELECT value FROM json_each(?))
ORDER BY b.booking_id DESC, length(s.row_label), s.row_label, s.number`

// userSalesSQL finds a page of a user's booking ids, newest first.
const userSalesSQL = `
SELECT DISTINCT booking_id FROM bookings
WHERE user_id = ?1 AND (?2 = '' OR booking_id < ?2)
ORDER BY booking_id DESC LIMIT ?3`

// Sale implements booking.SaleStore.
func (s *Store) Sale(ctx context.Context, bookingID string) (booking.Sale, error) {
	var sale booking.Sale
	err := s.inReadTx(ctx, func(tx *txn, _ int64) error {
		sales, err := readSales(ctx, tx, []string{bookingID})
		if err == nil && len(sales) == 0 {
			return booking.NotFoundf("no booking %s", bookingID)
		}
		if err == nil {
			sale = sales[0]
		}
		return err
	})
	return sale, wrap(err, "read booking")
}

// Sales implements booking.SaleStore.
func (s *Store) Sales(ctx context.Context, userID, before string, limit int) ([]booking.Sale, error) {
	var sales []booking.Sale
	err := s.inReadTx(ctx, func(tx *txn, _ int64) error {
		ids, err := queryStrings(ctx, tx, userSalesSQL, userID, before, limit)
		if err == nil {
			sales, err = readSales(ctx, tx, ids)
		}
		return err
	})
	return sales, wrap(err, "list bookings")
}

func readSales(ctx context.Context, tx *txn, ids []string) ([]booking.Sale, error) {
	rows, err := tx.QueryContext(ctx, salesSQL, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []booking.Sale
	for rows.Next() {
		var sale booking.Sale
		var bookedAt, cancelledAt, startsAt int64
		var seat, row string
		var number int
		if err := rows.Scan(&sale.ID, &sale.UserID, &bookedAt, &cancelledAt, &sale.Show.ID, &sale.Show.MovieTitle, &startsAt,
			&sale.Show.Auditorium, &seat, &row, &number); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != sale.ID {
			sale.ShowID, sale.BookedAt, sale.Show.StartsAt = sale.Show.ID, time.UnixMilli(bookedAt), time.UnixMilli(startsAt).UTC()
			if cancelledAt != 0 {
				sale.CancelledAt = time.UnixMilli(cancelledAt)
			}
			out = append(out, sale)
		}
		last := &out[len(out)-1]
		last.SeatIDs = append(last.SeatIDs, seat)
		last.Labels = append(last.Labels, booking.SeatLabel(row, number))
	}
	return out, rows.Err()
}

// Cancel implements booking.SaleStore.
func (s *Store) Cancel(ctx context.Context, p booking.CancelParams) (booking.Sale, error) {
	var sale booking.Sale
	err := s.inTx(ctx, func(tx *txn, now int64) error {
		sales, err := readSales(ctx, tx, []string{p.BookingID})
		if err == nil && len(sales) == 0 {
			err = booking.NotFoundf("no booking %s", p.BookingID)
		}
		if err != nil {
			return err
		}
		if err := booking.CheckCancel(sales[0], p, sales[0].Show.StartsAt.UnixMilli() <= now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cancelled_bookings
			(show_id, seat_id, booking_id, user_id, hold_token, booked_at, cancelled_at, cancelled_by)
			SELECT show_id, seat_id, booking_id, user_id, hold_token, booked_at, ?2, ?3 FROM bookings WHERE booking_id = ?1`,
			p.BookingID, now, p.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM bookings WHERE booking_id = ?", p.BookingID); err != nil {
			return err
		}
		freed, err := queryStrings(ctx, tx, `UPDATE seats SET status = 'available', booking_id = NULL, version = version + 1
			WHERE booking_id = ? RETURNING id`, p.BookingID)
		if err != nil {
			return err
		}
		slices.Sort(freed)
		if err := appendEvents(ctx, tx, sales[0].ShowID, event{status: booking.StatusAvailable, bookingID: p.BookingID, at: now}, freed, nil); err != nil {
			return err
		}
		sale = sales[0]
		sale.CancelledAt = time.UnixMilli(now)
		return insertReceipt(ctx, tx, now, p.Idempotent, sale)
	})
	if err != nil {
		return booking.Sale{}, wrap(err, "cancel booking")
	}
	return sale, nil
}
