package booking

import (
	"context"
	"time"
)

// MaxBlockSeats bounds the seats of one block or unblock: a whole block of
// house seats, not a whole stadium at once.
const MaxBlockSeats = 1000

// BlockParams is a blocking (or unblocking) of seats of one show for a store
// to make: all of them or none.
type BlockParams struct {
	ShowID     string
	SeatIDs    []string // canonical and distinct
	Block      bool     // false: unblock
	Idempotent *Idempotent
}

// Blocking is what a block or unblock did.
type Blocking struct {
	ShowID  string
	SeatIDs []string
	Blocked bool
	At      time.Time
}

// BlockStore takes seats off sale and puts them back.
type BlockStore interface {
	// Block blocks (or unblocks) p.SeatIDs, all or none: seats of another
	// show are ErrNotFound; blocking a seat held (not lapsed) or booked is
	// ErrSeatUnavailable naming them. A seat already as asked stays so.
	Block(ctx context.Context, p BlockParams) (Blocking, error)
}

// Block takes seats of a show off sale, or (block false) puts them back.
func (s *Service) Block(ctx context.Context, showID string, seatIDs []string, block bool, idem *Idempotent) (Blocking, error) {
	show, ok := ParseID(showID)
	if !ok {
		return Blocking{}, Invalidf("show id %q is not a UUID", clip(showID))
	}
	if len(seatIDs) > MaxBlockSeats {
		return Blocking{}, Invalidf("seatIds names %d seats; at most %d are blocked in one request", len(seatIDs), MaxBlockSeats)
	}
	ids, err := canonicalSeats(seatIDs)
	if err != nil {
		return Blocking{}, err
	}
	if err := idem.claim(); err != nil {
		return Blocking{}, err
	}
	b, err := s.store.Block(ctx, BlockParams{ShowID: show, SeatIDs: ids, Block: block, Idempotent: idem})
	if err != nil {
		return Blocking{}, s.labelled(err)
	}
	s.changed(show, ids)
	return b, nil
}

// BlockedStatus is the event status of a seat blocked (or unblocked).
func BlockedStatus(block bool) Status {
	if block {
		return StatusBlocked
	}
	return StatusAvailable
}

// BlockState is a seat as a block judges it.
type BlockState struct {
	OfShow  bool // of the show the block names
	Blocked bool
	Free    bool // available, or held under a hold that lapsed
}

// BlockChanges tells a store which of p's seats to change, from each seat's
// state (a seat absent from seats does not exist). All or none: a seat of
// another show (or none) is ErrNotFound, and a seat to block that is held or
// booked is ErrSeatUnavailable, both naming them. A seat already as asked is
// left alone.
func BlockChanges(p BlockParams, seats map[string]BlockState) ([]string, error) {
	var unknown, taken, change []string
	for _, id := range p.SeatIDs {
		st := seats[id]
		switch {
		case !st.OfShow:
			unknown = append(unknown, id)
		case st.Blocked == p.Block:
		case p.Block && !st.Free:
			taken = append(taken, id)
		default:
			change = append(change, id)
		}
	}
	switch {
	case unknown != nil:
		return nil, UnknownSeats(unknown)
	case taken != nil:
		return nil, SeatsUnavailable(taken)
	}
	return change, nil
}
