package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// salesSQL reads bookings with their shows and their seats' labels, in
// seat-map order within each booking, newest booking first.
const salesSQL = `
SELECT b.booking_id, b.user_id, b.booked_at, sh.id, sh.movie_title, sh.starts_at, sh.auditorium, s.id, s.row_label, s.number
FROM bookings b JOIN seats s ON s.id = b.seat_id JOIN shows sh ON sh.id = b.show_id
WHERE b.booking_id = ANY($1::uuid[])
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
	rows, err := s.pool.Query(ctx, salesSQL, ids)
	if err != nil {
		return nil, err
	}
	var out []booking.Sale
	var sale booking.Sale
	var seat, row string
	var number int
	_, err = pgx.ForEachRow(rows, []any{&sale.ID, &sale.UserID, &sale.BookedAt, &sale.Show.ID, &sale.Show.MovieTitle,
		&sale.Show.StartsAt, &sale.Show.Auditorium, &seat, &row, &number}, func() error {
		if len(out) == 0 || out[len(out)-1].ID != sale.ID {
			sale.ShowID, sale.SeatIDs, sale.Labels = sale.Show.ID, nil, nil
			out = append(out, sale)
		}
		last := &out[len(out)-1]
		last.SeatIDs = append(last.SeatIDs, seat)
		last.Labels = append(last.Labels, booking.SeatLabel(row, number))
		return nil
	})
	return out, err
}
