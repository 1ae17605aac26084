package booking

import "context"

// Sale is a booking as its buyer reads it back: its show, and its seats with
// their labels, in seat-map order.
type Sale struct {
	Booking
	Labels []string // of SeatIDs
	Show   Show     // its ID, MovieTitle, StartsAt and Auditorium
}

// SaleStore reads bookings back.
type SaleStore interface {
	// Sale returns a booking, or ErrNotFound.
	Sale(ctx context.Context, bookingID string) (Sale, error)
	// Sales returns up to limit of a user's bookings, newest first, those
	// older than before (a booking id) if it is set.
	Sales(ctx context.Context, userID, before string, limit int) ([]Sale, error)
}

// MaxSalesPage bounds a page of a buyer's bookings.
const MaxSalesPage = 100

// Sale returns a booking by id.
func (s *Service) Sale(ctx context.Context, bookingID string) (Sale, error) {
	id, ok := ParseID(bookingID)
	if !ok {
		return Sale{}, Invalidf("booking id %q is not a UUID", clip(bookingID))
	}
	return s.store.Sale(ctx, id)
}

// Sales returns a page of a user's bookings, newest first: up to limit (1 to
// MaxSalesPage) older than before, if set.
func (s *Service) Sales(ctx context.Context, userID, before string, limit int) ([]Sale, error) {
	if before != "" {
		id, ok := ParseID(before)
		if !ok {
			return nil, Invalidf("before %q is not a booking id", clip(before))
		}
		before = id
	}
	if limit < 1 || limit > MaxSalesPage {
		return nil, Invalidf("limit must be 1 to %d", MaxSalesPage)
	}
	return s.store.Sales(ctx, userID, before, limit)
}
