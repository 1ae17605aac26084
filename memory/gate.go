// Package memory holds the in-process adapters of the embedded default: they keep
// their state in this process only, which suits one seatd instance and unit tests,
// and never a fleet of instances.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"seatmanager/booking"
)

var _ booking.Gate = (*Gate)(nil)

// Gate is a booking.Gate in one process: a map from seat id to the token holding
// it and when that hold lapses. Seat ids are globally unique, so the show id is not
// part of the key. The zero value is not usable; call NewGate.
type Gate struct {
	// Now is the clock that decides expiry, so that tests can move time by hand.
	// Set it before the gate is first used; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	seats expiring[claim] // seat id → the token holding it
}

// claim is a token's key on a seat, and when it was taken or refreshed.
type claim struct {
	token string
	at    time.Time
}

// NewGate returns an empty gate on the wall clock.
func NewGate() *Gate {
	return &Gate{Now: time.Now, seats: newExpiring[claim](0)}
}

// Acquire takes every seat for token until ttl passes, or none of them, and
// returns in request order the claims other tokens have. Holding a seat again
// under the same token sets its expiry anew.
func (g *Gate) Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]booking.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acquire seats of show %s: %w", showID, err)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("acquire seats of show %s: ttl %v is not positive", showID, ttl)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := clock(g.Now)
	var taken []booking.Claim
	for _, id := range seatIDs {
		if c, _, ok := g.seats.get(id, now); ok && c.token != token {
			taken = append(taken, booking.Claim{SeatID: id, Token: c.token, Age: now.Sub(c.at)})
		}
	}
	if len(taken) > 0 {
		return taken, nil
	}
	for _, id := range seatIDs {
		g.seats.put(id, claim{token: token, at: now}, 0, now.Add(ttl), now)
	}
	return nil, nil
}

// Release gives back the seats that token still holds; a seat that lapsed and was
// taken by another token since stays with that token.
//
// It ignores ctx: it cannot block, and a hold left behind would turn buyers away
// from a free seat until it lapses.
func (g *Gate) Release(_ context.Context, showID, token string, seatIDs []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := clock(g.Now)
	for _, id := range seatIDs {
		if c, _, ok := g.seats.get(id, now); ok && c.token == token {
			g.seats.delete(id)
		}
	}
	return nil
}
