package sqlite

import (
	"context"
	"time"

	"seatmanager/booking"
)

// salesSQL reads bookings with their shows and their seats' labels, in
// seat-map order within each booking, newest booking first.
const salesSQL = `
SELECT b.booking_id, b.user_id, b.booked_at, sh.id, sh.movie_title, sh.starts_at, sh.auditorium, s.id, s.row_label, s.number
FROM bookings b JOIN seats s ON s.id = b.seat_id JOIN shows sh ON sh.id = b.show_id
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
		var bookedAt, startsAt int64
		var seat, row string
		var number int
		if err := rows.Scan(&sale.ID, &sale.UserID, &bookedAt, &sale.Show.ID, &sale.Show.MovieTitle, &startsAt,
			&sale.Show.Auditorium, &seat, &row, &number); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != sale.ID {
			sale.ShowID, sale.BookedAt, sale.Show.StartsAt = sale.Show.ID, time.UnixMilli(bookedAt), time.UnixMilli(startsAt).UTC()
			out = append(out, sale)
		}
		last := &out[len(out)-1]
		last.SeatIDs = append(last.SeatIDs, seat)
		last.Labels = append(last.Labels, booking.SeatLabel(row, number))
	}
	return out, rows.Err()
}
