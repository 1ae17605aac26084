package booking

import (
	"context"
	"time"
)

// What the Service needs of a database, and the changes it asks of one.

// Catalog reads shows and seats.
type Catalog interface {
	Shows(ctx context.Context) ([]Show, error)
	// CreateShow adds a show and its seats; false, changing nothing, if a
	// show of its id exists.
	CreateShow(ctx context.Context, show NewShow) (bool, error)
	// SeatMap returns ErrNotFound for an unknown show.
	SeatMap(ctx context.Context, showID string) (SeatMap, error)
	// SeatShows maps each seat id that exists to its show and label; unknown
	// ids are absent.
	SeatShows(ctx context.Context, seatIDs []string) (map[string]SeatRef, error)
	// ShowSeq returns the seq of a show's latest event; ErrNotFound for an
	// unknown show.
	ShowSeq(ctx context.Context, showID string) (int64, error)
	// Events returns up to limit events of a show with seq greater than
	// afterSeq, in order.
	Events(ctx context.Context, showID string, afterSeq int64, limit int) ([]Event, error)
	// TakenSeats tells, of each of seatIDs that is held, booked or blocked
	// now by the database clock, its show and who holds or bought it. The
	// Service asks it to confirm refusals at the gate, so a store should
	// serve concurrent calls cheaply.
	TakenSeats(ctx context.Context, seatIDs []string) (map[string]Taken, error)
}

// SeatStore changes seats. Each call is one transaction that changes every seat it
// names or none, decides by the database clock, and appends one Event per changed
// seat to the show's log.
type SeatStore interface {
	// Hold holds seats that are available or whose hold has lapsed. It fails with
	// ErrSeatUnavailable naming every seat that is not.
	Hold(ctx context.Context, p HoldParams) (Hold, error)
	// Book sells seats that p.UserID holds (under p.HoldToken, if set) and whose hold
	// has not lapsed. It fails with ErrSeatUnavailable naming the seats the user does
	// not hold, or else with ErrHoldExpired naming those whose hold lapsed.
	Book(ctx context.Context, p BookParams) (Booking, error)
	// Release frees seats that p.UserID holds (under p.HoldToken, if set). It fails
	// with ErrSeatUnavailable naming the seats the user does not hold.
	Release(ctx context.Context, p ReleaseParams) (Release, error)
}

// Store is everything the Service needs of a database.
type Store interface {
	Catalog
	SeatStore
	HoldStore
	SaleStore
	BlockStore
}

// HoldParams is a hold for a store to make: Token is new, SeatIDs are canonical,
// distinct and all of ShowID.
type HoldParams struct {
	Token   string
	ShowID  string
	UserID  string
	SeatIDs []string
	TTL     time.Duration
	// MaxHeld, if not zero, is the most seats of ShowID that UserID may hold
	// at once, these included: past it the store refuses with HeldLimit.
	MaxHeld    int
	Idempotent *Idempotent // if set, its receipt is stored with the change
}

// BookParams is a sale for a store to make. HoldToken is optional.
type BookParams struct {
	BookingID  string
	ShowID     string
	UserID     string
	HoldToken  string
	SeatIDs    []string
	Idempotent *Idempotent // if set, its receipt is stored with the change
}

// ReleaseParams is a release for a store to make. HoldToken is optional. The
// Release it returns carries, in HoldTokens, the hold each seat was freed from.
type ReleaseParams struct {
	ShowID     string
	UserID     string
	HoldToken  string
	SeatIDs    []string
	Idempotent *Idempotent // if set, its receipt is stored with the change
}
