package booking

import (
	"context"
	"time"
)

// Sale is a booking as its buyer reads it back: its show, and its seats with
// their labels, in seat-map order.
type Sale struct {
	Booking
	Labels []string // of SeatIDs
	Show   Show     // its ID, MovieTitle, StartsAt and Auditorium
	// CancelledAt is set once the booking was cancelled: its seats went
	// back on sale then.
	CancelledAt time.Time
}

// CancelParams is a cancellation for a store to make.
type CancelParams struct {
	BookingID string
	UserID    string // the caller: the buyer, unless Operator
	// Operator may cancel anyone's booking, also once its show started.
	Operator   bool
	Idempotent *Idempotent // if set, its receipt (of the Sale) is stored with the change
}

// CheckCancel tells a store whether caller may cancel sale, whose show has
// started or not: its buyer before the show, an operator always.
func CheckCancel(sale Sale, p CancelParams, started bool) error {
	switch {
	case !p.Operator && sale.UserID != p.UserID:
		return NotFoundf("no booking %s", sale.ID)
	case !sale.CancelledAt.IsZero():
		return &Error{Kind: ErrLimitReached, Detail: "booking " + sale.ID + " was cancelled already"}
	case started && !p.Operator:
		return &Error{Kind: ErrLimitReached, Detail: "the show of booking " + sale.ID + " has started: only the box office can cancel it now"}
	}
	return nil
}

// SaleStore reads bookings back.
type SaleStore interface {
	// Sale returns a booking, or ErrNotFound.
	Sale(ctx context.Context, bookingID string) (Sale, error)
	// Sales returns up to limit of a user's bookings, newest first, those
	// older than before (a booking id) if it is set.
	Sales(ctx context.Context, userID, before string, limit int) ([]Sale, error)
	// Cancel puts a booking's seats back on sale, with their events, as
	// CheckCancel allows, and returns it cancelled.
	Cancel(ctx context.Context, p CancelParams) (Sale, error)
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

// Cancel cancels a booking: its seats go back on sale.
func (s *Service) Cancel(ctx context.Context, p CancelParams) (Sale, error) {
	id, ok := ParseID(p.BookingID)
	if !ok {
		return Sale{}, Invalidf("booking id %q is not a UUID", clip(p.BookingID))
	}
	p.BookingID = id
	if err := p.Idempotent.claim(); err != nil {
		return Sale{}, err
	}
	sale, err := s.store.Cancel(ctx, p)
	if err != nil {
		return Sale{}, err
	}
	s.changed(sale.ShowID, sale.SeatIDs)
	return sale, nil
}
