// Package booking is the domain of Movie Seat Manager: shows, their seats, holds and
// bookings, the errors a caller can get, and the Service that decides who gets a seat.
//
// It imports only the standard library. Storage, the Redis gate and HTTP live in
// adapter packages that implement the small interfaces declared here.
package booking

import (
	"strconv"
	"time"
)

// Status is the state of a seat as buyers see it.
type Status string

// The three states of a seat. A hold whose expiry has passed is reported as
// StatusAvailable even before anything has released it (lazy expiry).
const (
	StatusAvailable Status = "available"
	StatusHeld      Status = "held"
	StatusBooked    Status = "booked"
	// StatusBlocked: the house keeps the seat off sale (house seats, a broken
	// seat); nobody may hold it until an operator unblocks it.
	StatusBlocked Status = "blocked"
)

// Show is one screening of a movie in an auditorium.
type Show struct {
	ID             string
	MovieTitle     string
	StartsAt       time.Time
	Auditorium     string
	SeatsTotal     int
	SeatsAvailable int
}

// Seat is one seat of a show. It never carries who holds or booked it: seat maps are
// public.
type Seat struct {
	ID       string
	ShowID   string
	Row      string
	Number   int
	Label    string
	Category string
	Status   Status
	// Accessible marks a wheelchair-accessible seat; X is the seat's column
	// counting aisle gaps, for renderers and best-available searches.
	Accessible bool
	X          int
}

// SeatMap is every seat of a show with the show's event sequence number at the time
// it was read, so a live client can tell which events it has already seen.
type SeatMap struct {
	ShowID string
	Seq    int64
	Seats  []Seat
}

// Booking is a sale: seats of one show bought together by one user.
type Booking struct {
	ID       string
	ShowID   string
	UserID   string
	SeatIDs  []string
	BookedAt time.Time
	// Ended are the holds the sale left without seats, whose expiry notices
	// are no longer needed. Internal, as Release.HoldTokens.
	Ended []string
}

// Release reports seats a user gave back.
type Release struct {
	ShowID     string
	SeatIDs    []string
	ReleasedAt time.Time
	// HoldTokens[i] is the hold SeatIDs[i] was freed from. It is internal: the gate
	// needs it to drop exactly those holds' keys; clients never see it.
	HoldTokens []string
	// Ended are the holds the release left without seats.
	Ended []string
}

// NewShow describes a show to create, with its seats.
type NewShow struct {
	ID         string
	MovieTitle string
	StartsAt   time.Time
	Auditorium string
	Seats      []NewSeat
	Idempotent *Idempotent // if set, its receipt (of the Show made) is stored with the show
}

// Created is the Show a NewShow makes, all its seats on sale.
func (s NewShow) Created() Show {
	return Show{ID: s.ID, MovieTitle: s.MovieTitle, StartsAt: s.StartsAt, Auditorium: s.Auditorium,
		SeatsTotal: len(s.Seats), SeatsAvailable: len(s.Seats)}
}

// NewSeat describes one seat of a NewShow.
type NewSeat struct {
	ID         string
	Row        string
	Number     int
	Category   string
	Accessible bool
	X          int // its column, counting aisles; 0 for Number
}

// Column is the seat's X, or its number if X is not set (no aisles).
func (s NewSeat) Column() int {
	if s.X == 0 {
		return s.Number
	}
	return s.X
}

// Label is how a seat is named on tickets and seat maps: its row then its number.
func (s NewSeat) Label() string { return SeatLabel(s.Row, s.Number) }

// SeatLabel names the seat at row and number, such as "C7".
// A row whose label ends in a digit gets a dash ("R1-11"), so that no two
// seats share a label: "R1" 11 and "R11" 1 would both be "R111".
func SeatLabel(row string, number int) string {
	if row != "" && '0' <= row[len(row)-1] && row[len(row)-1] <= '9' {
		return row + "-" + strconv.Itoa(number)
	}
	return row + strconv.Itoa(number)
}
