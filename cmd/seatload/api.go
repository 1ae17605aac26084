package main

import (
	"context"
	"fmt"
	"net/url"
	"sync"
)

// show is an entry of GET /api/seats/shows.
type show struct {
	ID             string `json:"id"`
	MovieTitle     string `json:"movieTitle"`
	SeatsTotal     int    `json:"seatsTotal"`
	SeatsAvailable int    `json:"seatsAvailable"`
}

// seatMap is the answer of GET /api/seats/{showId}.
type seatMap struct {
	ShowID string `json:"showId"`
	Seq    int64  `json:"seq"`
	Seats  []seat `json:"seats"`
}

// seat is one seat of a seat map.
type seat struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Status string `json:"status"`
}

// The statuses a seat map reports.
const (
	statusAvailable = "available"
	statusHeld      = "held"
	statusBooked    = "booked"
)

// holdBody is the body of hold-bulk.
type holdBody struct {
	SeatIDs []string `json:"seatIds"`
	UserID  string   `json:"userId"`
}

// seatsBody is the body of book-bulk and release-bulk.
type seatsBody struct {
	SeatIDs   []string `json:"seatIds"`
	UserID    string   `json:"userId"`
	HoldToken string   `json:"holdToken"`
}

// holdAnswer is the answer of a successful hold.
type holdAnswer struct {
	HoldToken  string   `json:"holdToken"`
	ShowID     string   `json:"showId"`
	SeatIDs    []string `json:"seatIds"`
	TTLSeconds float64  `json:"ttlSeconds"` // seatd's hold TTL
}

// bookAnswer is the answer of a successful booking.
type bookAnswer struct {
	BookingID string   `json:"bookingId"`
	SeatIDs   []string `json:"seatIds"`
}

// releaseAnswer is the answer of a successful release.
type releaseAnswer struct {
	SeatIDs []string `json:"seatIds"`
}

// shows reads the show list outside any measurement.
func (c *client) shows(ctx context.Context) ([]show, error) {
	var out []show
	if a := c.get(ctx, nil, routeShows, pathShows, &out); !a.ok() {
		return nil, fmt.Errorf("GET %s: %v", pathShows, a)
	}
	return out, nil
}

// seatMap reads one show's seat map outside any measurement.
func (c *client) seatMap(ctx context.Context, showID string) (seatMap, error) {
	var m seatMap
	if a := c.get(ctx, nil, routeSeatMap, seatMapPath(showID), &m); !a.ok() {
		return m, fmt.Errorf("GET seat map of show %s: %v", showID, a)
	}
	return m, nil
}

// seatMaps reads the seat maps of the given shows, a few at a time: setup and
// verification may read hundreds of them and should not take long.
func (c *client) seatMaps(ctx context.Context, showIDs []string) ([]seatMap, error) {
	maps := make([]seatMap, len(showIDs))
	errs := make([]error, len(showIDs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, id := range showIDs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			maps[i], errs[i] = c.seatMap(ctx, id)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return maps, nil
}

func seatMapPath(showID string) string { return "/api/seats/" + url.PathEscape(showID) }
