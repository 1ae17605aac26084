package booking

import "time"

// Event is one seat changing state, as recorded in the show's event log in the same
// transaction as the change. Seq numbers a show's events 1, 2, 3… in commit order,
// so a reader that knows the last Seq it saw can tell whether it missed any.
type Event struct {
	ShowID    string
	Seq       int64
	SeatID    string
	Status    Status
	HoldToken string // set when Status is StatusHeld, and on releases of a hold
	BookingID string // set when Status is StatusBooked
	At        time.Time
}
