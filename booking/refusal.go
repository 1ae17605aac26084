package booking

// Every store judges changes on its own rows, but explains a refused book by
// this one rule, so that the same request gets the same answer on each.

// Obstacle is why a seat of a book could not be sold, as a store found the
// seat in the book's transaction.
type Obstacle int

const (
	// SeatSold: the seat is booked, by anyone.
	SeatSold Obstacle = iota
	// SeatTaken: the seat is held under a live hold that is not the caller's,
	// or not the one the book named.
	SeatTaken
	// SeatLapsed: the caller held the seat (under the named hold, if any),
	// and that hold has lapsed.
	SeatLapsed
	// SeatFree: nobody holds the seat: it is available, or its hold (not the
	// caller's) has lapsed; or it is not a seat of the show.
	SeatFree
)

// BookRefusal is the error of a book refused for the failed seats, given in
// request order: ErrSeatUnavailable naming the seats someone else has (sold or
// held) and the free seats the caller cannot be said to have held, or, if
// there are none, ErrHoldExpired naming the seats whose hold by the caller
// lapsed. A free seat is the caller's lapsed seat if the book named a hold of
// the caller's, of the same show, that lapsed (namedLapsed, asked only when a
// seat is free): its hold ran out and the seat was released, or taken and
// released again, since.
//
// So a buyer whose hold lapsed hears 409 if any of its seats was taken by
// someone else meanwhile (holding again cannot help), and 410 if they are all
// still to be had.
func BookRefusal(failed []string, why func(seatID string) Obstacle, namedLapsed func() (bool, error)) error {
	var taken, expired, free []string
	for _, id := range failed {
		switch why(id) {
		case SeatSold, SeatTaken:
			taken = append(taken, id)
		case SeatLapsed:
			expired = append(expired, id)
		default:
			free = append(free, id)
		}
	}
	if len(free) > 0 {
		lapsed, err := namedLapsed()
		if err != nil {
			return err
		}
		if lapsed {
			expired = append(expired, free...)
		} else {
			taken = append(taken, free...)
		}
	}
	if len(taken) > 0 {
		return SeatsUnavailable(InOrder(failed, taken))
	}
	return HoldExpired(InOrder(failed, expired))
}

// SeatRow is a seat as a store read it in a change's transaction.
type SeatRow struct {
	Status    Status
	Holder    string // the user holding it, if held
	HoldToken string // the hold it is held under, if held
	Lapsed    bool   // held, and its hold's expiry has passed by the database clock
}

// HeldBy reports whether user holds the seat (under token, if set), lapsed or not.
func (r SeatRow) HeldBy(user, token string) bool {
	return r.Status == StatusHeld && r.Holder == user && (token == "" || r.HoldToken == token)
}

// Obstacle says what stands between user (naming hold token, if set) and
// booking the seat. A seat user may book has none, and is never asked about.
func (r SeatRow) Obstacle(user, token string) Obstacle {
	switch {
	case r.Status == StatusBooked:
		return SeatSold
	case r.HeldBy(user, token) && r.Lapsed:
		return SeatLapsed
	case r.Status == StatusHeld && !r.Lapsed:
		return SeatTaken
	default:
		return SeatFree
	}
}
