package live

import (
	"encoding/json"
	"time"

	"seatmanager/booking"
)

// The frames a viewer receives, as text messages of JSON. They carry no user
// ids, hold tokens or booking ids: seat status is public, who holds a seat is
// not.

// Seat is a seat as the seat map and the snapshot frame show it.
type Seat struct {
	ID       string         `json:"id"`
	Row      string         `json:"row"`
	Number   int            `json:"number"`
	Label    string         `json:"label"`
	Category string         `json:"category"`
	Status   booking.Status `json:"status"`
	// Accessible and X (the column, counting aisle gaps) are the seat's
	// place in its auditorium's layout.
	Accessible bool `json:"accessible"`
	X          int  `json:"x"`
}

// SeatOf is the public view of a seat.
func SeatOf(s booking.Seat) Seat {
	return Seat{ID: s.ID, Row: s.Row, Number: s.Number, Label: s.Label, Category: s.Category, Status: s.Status,
		Accessible: s.Accessible, X: s.X}
}

// Event is a seat change as viewers see it.
type Event struct {
	Seq    int64          `json:"seq"`
	SeatID string         `json:"seatId"`
	Status booking.Status `json:"status"`
	At     time.Time      `json:"at"`
}

// EventOf is the public view of an event of the log.
func EventOf(e booking.Event) Event {
	return Event{Seq: e.Seq, SeatID: e.SeatID, Status: e.Status, At: e.At.UTC()}
}

// snapshotFrame is every seat of a show as of seq.
type snapshotFrame struct {
	Type   string `json:"type"` // "snapshot"
	ShowID string `json:"showId"`
	Seq    int64  `json:"seq"`
	Seats  []Seat `json:"seats"`
}

// eventsFrame is consecutive events of a show.
type eventsFrame struct {
	Type   string  `json:"type"` // "events"
	ShowID string  `json:"showId"`
	Events []Event `json:"events"`
}

func encodeSnapshot(showID string, seq int64, seats []Seat) []byte {
	b, err := json.Marshal(snapshotFrame{Type: "snapshot", ShowID: showID, Seq: seq, Seats: seats})
	if err != nil {
		panic(err) // strings, numbers and times always encode
	}
	return b
}

func encodeEvents(showID string, events []booking.Event) []byte {
	f := eventsFrame{Type: "events", ShowID: showID, Events: make([]Event, len(events))}
	for i, e := range events {
		f.Events[i] = EventOf(e)
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}
