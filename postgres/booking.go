package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"seatmanager/booking"
)

// A seat change (hold, book, release) is judged on its seats as they are once
// locked, by the database clock read after the last lock, and is written only
// if every seat may change. Changes are written in batches (see batch.go); the
// types below say, for one change, what may change and what to write.

// lockedSeat is a seat as the batch's lock read it.
type lockedSeat struct {
	booking.SeatRow
	show    string
	expires *time.Time
}

func (l lockedSeat) held() bool { return l.Status == booking.StatusHeld }

// holdable reports whether a new hold may take the seat: free, or held under a
// hold that lapsed.
func (l lockedSeat) holdable() bool {
	return l.Status == booking.StatusAvailable || (l.held() && l.Lapsed)
}

// target is what every change names: its show, its seats and its key.
type target struct {
	show  string
	seats []string
	idem  *booking.Idempotent
}

func (t target) showID() string                  { return t.show }
func (t target) seatIDs() []string               { return t.seats }
func (t target) idempotent() *booking.Idempotent { return t.idem }

// submitAs submits c and returns its result as a T.
func submitAs[T any](ctx context.Context, s *Store, c change, what string) (T, error) {
	res, err := s.submit(ctx, c)
	if err != nil {
		var zero T
		return zero, wrap(err, what)
	}
	return res.(T), nil
}

// change is one request's seat change, as the batch writer runs it.
type change interface {
	showID() string
	seatIDs() []string
	idempotent() *booking.Idempotent
	// decide judges the change on what its batch read. It returns what to
	// write and the result to answer with, or the error to answer with and
	// nothing written. q runs queries inside the batch's transaction.
	decide(ctx context.Context, q querier, r *batchRead) (write, any, error)
}

// batchRead is what a batch's first round trip read, for its changes to be
// judged on.
type batchRead struct {
	// seats has every seat of the batch that exists, whatever its show, as
	// locked.
	seats map[string]lockedSeat
	// held counts the seats each capped holder of the batch holds, read once
	// the holder's lock was granted.
	held map[holder]int
	// at is the database's clock, read after the last seat lock.
	at time.Time
}

// holder is a user holding seats of a show: the unit of the per-user cap.
type holder struct{ user, show string }

// write is what one change writes: the seats' new state, its hold or sale,
// and its events.
type write struct {
	status    booking.Status
	holdToken string     // held: the new hold
	holder    string     // held: its user
	expiresAt *time.Time // held: its expiry
	bookingID string     // booked: the sale
	buyer     string     // booked: its user
	// priorHolds are the holds the seats were sold from; eventHolds the hold
	// each seat's event names (nil: none).
	priorHolds, eventHolds []string
}

// refused returns, in request order, the seats of seatIDs that may not change:
// those not locked (not of the show) and those may rejects.
func refused(locked map[string]lockedSeat, showID string, seatIDs []string, may func(lockedSeat) bool) []string {
	var out []string
	for _, id := range seatIDs {
		if l, ok := locked[id]; !ok || l.show != showID || !may(l) {
			out = append(out, id)
		}
	}
	return out
}

// tokensOf returns the hold each of seatIDs was locked under.
func tokensOf(locked map[string]lockedSeat, seatIDs []string) []string {
	out := make([]string, len(seatIDs))
	for i, id := range seatIDs {
		out[i] = locked[id].HoldToken
	}
	return out
}

type holdChange struct {
	target
	p booking.HoldParams
}

// capped returns the holder whose cap the hold is judged under, if it has one.
func (c holdChange) capped() (holder, bool) {
	return holder{c.p.UserID, c.p.ShowID}, c.p.MaxHeld > 0
}

func (c holdChange) decide(_ context.Context, _ querier, r *batchRead) (write, any, error) {
	p, locked, at := c.p, r.seats, r.at
	if bad := refused(locked, p.ShowID, p.SeatIDs, lockedSeat.holdable); len(bad) > 0 {
		return write{}, nil, booking.SeatsUnavailable(bad)
	}
	if h, ok := c.capped(); ok {
		if err := booking.CheckHeld(r.held[h], len(p.SeatIDs), p.MaxHeld); err != nil {
			return write{}, nil, err
		}
	}
	// The database keeps microseconds; so does the expiry the client hears.
	h := booking.Hold{Token: p.Token, Version: 1, UserID: p.UserID, ShowID: p.ShowID, SeatIDs: p.SeatIDs,
		ExpiresAt: at.Add(p.TTL.Truncate(time.Microsecond))}
	for _, id := range p.SeatIDs {
		if l := locked[id]; l.held() {
			h.Lapsed = append(h.Lapsed, *l.expires)
		}
	}
	return write{status: booking.StatusHeld, holdToken: p.Token, holder: p.UserID, expiresAt: &h.ExpiresAt,
		eventHolds: slices.Repeat([]string{p.Token}, len(p.SeatIDs))}, h, nil
}

// Hold implements booking.SeatStore.
func (s *Store) Hold(ctx context.Context, p booking.HoldParams) (booking.Hold, error) {
	return submitAs[booking.Hold](ctx, s, holdChange{target{p.ShowID, p.SeatIDs, p.Idempotent}, p}, "hold seats")
}

// holdLapsedSQL tells whether a user's hold of a show has lapsed, after its
// seats were released by expiry or taken by someone else.
const holdLapsedSQL = `
SELECT expires_at <= clock_timestamp() FROM holds WHERE token = $1 AND user_id = $2 AND show_id = $3`

type bookChange struct {
	target
	p booking.BookParams
}

func (c bookChange) decide(ctx context.Context, q querier, r *batchRead) (write, any, error) {
	p, locked, at := c.p, r.seats, r.at
	// Held by the user under a hold that has not lapsed.
	mine := func(l lockedSeat) bool { return l.HeldBy(p.UserID, p.HoldToken) && !l.Lapsed }
	if bad := refused(locked, p.ShowID, p.SeatIDs, mine); len(bad) > 0 {
		return write{}, nil, bookFailure(ctx, q, p, locked, bad)
	}
	bk := booking.Booking{ID: p.BookingID, ShowID: p.ShowID, UserID: p.UserID, SeatIDs: p.SeatIDs, BookedAt: at}
	return write{status: booking.StatusBooked, bookingID: p.BookingID, buyer: p.UserID,
		priorHolds: tokensOf(locked, p.SeatIDs)}, bk, nil
}

// Book implements booking.SeatStore.
func (s *Store) Book(ctx context.Context, p booking.BookParams) (booking.Booking, error) {
	return submitAs[booking.Booking](ctx, s, bookChange{target{p.ShowID, p.SeatIDs, p.Idempotent}, p}, "book seats")
}

// bookFailure explains why a book could not take the failed seats, from the
// rows as they were locked, by the rule every store shares.
func bookFailure(ctx context.Context, q querier, p booking.BookParams, locked map[string]lockedSeat, failed []string) error {
	why := func(id string) booking.Obstacle {
		l, ok := locked[id]
		if !ok || l.show != p.ShowID {
			return booking.SeatFree
		}
		return l.Obstacle(p.UserID, p.HoldToken)
	}
	return booking.BookRefusal(failed, why, func() (bool, error) {
		if p.HoldToken == "" {
			return false, nil
		}
		var lapsed bool
		err := q.QueryRow(ctx, holdLapsedSQL, p.HoldToken, p.UserID, p.ShowID).Scan(&lapsed)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return lapsed, err
	})
}

type releaseChange struct {
	target
	p booking.ReleaseParams
}

func (c releaseChange) decide(_ context.Context, _ querier, rd *batchRead) (write, any, error) {
	p, locked, at := c.p, rd.seats, rd.at
	// Held by the user, lapsed or not.
	mine := func(l lockedSeat) bool { return l.HeldBy(p.UserID, p.HoldToken) }
	if bad := refused(locked, p.ShowID, p.SeatIDs, mine); len(bad) > 0 {
		return write{}, nil, booking.SeatsUnavailable(bad)
	}
	r := booking.Release{ShowID: p.ShowID, SeatIDs: p.SeatIDs, ReleasedAt: at, HoldTokens: tokensOf(locked, p.SeatIDs)}
	return write{status: booking.StatusAvailable, eventHolds: r.HoldTokens}, r, nil
}

// Release implements booking.SeatStore.
func (s *Store) Release(ctx context.Context, p booking.ReleaseParams) (booking.Release, error) {
	return submitAs[booking.Release](ctx, s, releaseChange{target{p.ShowID, p.SeatIDs, p.Idempotent}, p}, "release seats")
}
