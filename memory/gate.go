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

// minPruneAt is the size below which the map is never swept: sweeping a small map
// costs more than the few expired entries it holds.
const minPruneAt = 1024

// Gate is a booking.Gate in one process: a map from seat id to the token holding
// it and when that hold lapses. Seat ids are globally unique, so the show id is not
// part of the key. The zero value is not usable; call NewGate.
type Gate struct {
	// Now is the clock that decides expiry, so that tests can move time by hand.
	// Set it before the gate is first used; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	seats   map[string]hold
	pruneAt int // sweep expired entries once the map reaches this size
}

type hold struct {
	token   string
	expires time.Time
}

// NewGate returns an empty gate on the wall clock.
func NewGate() *Gate {
	return &Gate{Now: time.Now, seats: make(map[string]hold), pruneAt: minPruneAt}
}

// Acquire takes every seat for token until ttl passes, or none of them, and
// returns in request order the seats another token holds. Holding a seat again
// under the same token sets its expiry anew.
func (g *Gate) Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acquire seats of show %s: %w", showID, err)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("acquire seats of show %s: ttl %v is not positive", showID, ttl)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var taken []string
	for _, id := range seatIDs {
		if h, ok := g.seats[id]; ok && h.token != token && now.Before(h.expires) {
			taken = append(taken, id)
		}
	}
	if len(taken) > 0 {
		return taken, nil
	}
	g.prune(now)
	expires := now.Add(ttl)
	for _, id := range seatIDs {
		g.seats[id] = hold{token: token, expires: expires}
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
	for _, id := range seatIDs {
		if h, ok := g.seats[id]; ok && h.token == token {
			delete(g.seats, id)
		}
	}
	return nil
}

// prune deletes lapsed holds once the map has doubled since the last sweep, so
// that abandoned holds cannot grow the map without bound while each Acquire still
// costs amortised constant time. g.mu must be held.
func (g *Gate) prune(now time.Time) {
	if len(g.seats) < g.pruneAt {
		return
	}
	for id, h := range g.seats {
		if !now.Before(h.expires) {
			delete(g.seats, id)
		}
	}
	g.pruneAt = max(2*len(g.seats), minPruneAt)
}

func (g *Gate) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}
