package booking

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Taken is a seat that is not free, as the database tells it.
type Taken struct {
	ShowID string
	// UserID holds or bought the seat; empty for a blocked seat.
	UserID string
	// Until is when its hold lapses, by the database clock; zero for a seat
	// booked or blocked.
	Until time.Time
}

// confirmation is a refusal at the gate, confirmed.
type confirmation struct {
	// unavailable are the seats not free, in request order.
	unavailable []string
	// byOthers: every one of them is held or sold to another user (or
	// blocked), as the database or this service's own holds tell it. A
	// refusal that the user's own hold is behind (an earlier attempt of the
	// same request, say) is not.
	byOthers bool
}

// confirm tells which seats of a request turned away at the gate are not
// free: those of claims by holds this service committed while the request ran
// (a claim of a hold still being made is waited for), and those the database
// calls held or booked, read or remembered from a read of the last
// Config.ConfirmFor. Every seat the first kind does not cover is looked up, so that
// the refusal names what the database would.
func (s *Service) confirm(ctx context.Context, showID, userID string, seatIDs []string, claims []Claim, began time.Time) (confirmation, error) {
	// A request names at most Config.MaxSeats seats (10 by default), so
	// slices searched end to end serve here better than maps: every refusal
	// is confirmed, and a map of each kind was a good part of its garbage.
	held := make([]string, 0, len(claims))
	claimed := make([]string, 0, len(claims))
	byOthers := true
	for _, c := range claims {
		claimed = append(claimed, c.SeatID)
		holder, ok, err := s.flights.heldSince(ctx, c.Token, began)
		if err != nil {
			return confirmation{}, err
		}
		if ok {
			held = append(held, c.SeatID)
			byOthers = byOthers && holder != userID
		}
	}
	var unavailable, rest []string
	for _, id := range seatIDs {
		if slices.Contains(held, id) {
			unavailable = append(unavailable, id)
		} else {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 {
		taken, err := s.taken.lookup(ctx, showID, rest, claimed, s.store.TakenSeats)
		if err != nil {
			return confirmation{}, err
		}
		for i, id := range rest {
			if t := taken[i]; t.ShowID == showID {
				unavailable = append(unavailable, id)
				byOthers = byOthers && t.UserID != userID
			}
		}
	}
	return confirmation{unavailable: InOrder(seatIDs, unavailable), byOthers: byOthers}, nil
}

// DefaultConfirmFor is how long a read of taken seats confirms refusals at
// the gate (Config.ConfirmFor). Under contention every buyer turned away
// would otherwise cost a read; with it, a hot seat costs one read a
// ConfirmFor per instance, however many are turned away. It bounds how long a
// refusal may be wrong after the database freed a seat behind a gate key that
// failed to go (Redis stalled as the release ran); a refusal confirmed by a
// read is as old as the read anyway. This service's own changes forget the
// seats they change at once.
const DefaultConfirmFor = 250 * time.Millisecond

// takenCache remembers what reads that confirmed refusals found, each seat
// for life and no longer than its hold lasts, by show.
type takenCache struct {
	life    time.Duration
	mu      sync.Mutex
	shows   map[string]map[string]takenEntry // show → seat → what a read found
	pruneAt time.Time
}

type takenEntry struct {
	Taken
	free bool // the read found the seat free
	read time.Time
	// forgotten: this service changed the seat at read, which is then no
	// read's time but the change's; the entry stands in for it so that a read
	// that began earlier, and may have seen the seat before the change, is
	// not remembered.
	forgotten bool
}

// lookup tells, for each of seatIDs (seats of showID), whether it is taken,
// from what it remembers or else from read, whose answer it remembers: the
// i-th Taken is seatIDs[i]'s, or zero if it is free. A seat that a gate
// claim stands on (one of claimed) is taken only as a read found it: that it
// was free says nothing of a hold on its way to the database, which the claim
// may be. A read also reads again the show's seats it remembers that are past
// half their life: the hot seats of an on-sale are read together, once a
// life, rather than each on its own as it ages.
func (c *takenCache) lookup(ctx context.Context, showID string, seatIDs, claimed []string, read func(context.Context, []string) (map[string]Taken, error)) ([]Taken, error) {
	now := time.Now()
	taken := make([]Taken, len(seatIDs))
	var missing []string
	c.mu.Lock()
	seats := c.shows[showID]
	for i, id := range seatIDs {
		switch e, ok := seats[id]; {
		case !ok || !c.fresh(e, now) || e.free && slices.Contains(claimed, id):
			missing = append(missing, id)
		case !e.free:
			taken[i] = e.Taken
		}
	}
	if len(missing) > 0 {
		for id, e := range seats {
			if !e.forgotten && now.Sub(e.read) > c.life/2 && !slices.Contains(seatIDs, id) {
				missing = append(missing, id)
			}
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return taken, nil
	}
	found, err := read(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	if c.shows[showID] == nil {
		c.shows[showID] = make(map[string]takenEntry)
	}
	for _, id := range missing {
		// As old as the read's start: a change may have committed while it ran.
		t, ok := found[id]
		if i := slices.Index(seatIDs, id); ok && i >= 0 {
			taken[i] = t
		}
		if e, had := c.shows[showID][id]; had && e.forgotten && !e.read.Before(now) {
			continue // changed since the read began: what it found may be gone
		}
		c.shows[showID][id] = takenEntry{Taken: t, free: !ok, read: now}
	}
	return taken, nil
}

// prune drops, once a life, what is too old to confirm anything.
func (c *takenCache) prune(now time.Time) {
	if c.shows == nil {
		c.shows = make(map[string]map[string]takenEntry)
	}
	if now.Before(c.pruneAt) {
		return
	}
	for show, seats := range c.shows {
		for id, e := range seats {
			// A forgotten seat is kept as long as a read that began before
			// the change could still be remembered as fresh.
			if now.Sub(e.read) >= c.life || !e.forgotten && !c.fresh(e, now) {
				delete(seats, id)
			}
		}
		if len(seats) == 0 {
			delete(c.shows, show)
		}
	}
	c.pruneAt = now.Add(c.life)
}

// forget drops what the cache knows of seats of a show this service changed,
// once the change committed, and keeps reads in flight from remembering them
// as they were before it.
func (c *takenCache) forget(showID string, seatIDs []string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	seats := c.shows[showID]
	if seats == nil {
		seats = make(map[string]takenEntry, len(seatIDs))
		c.shows[showID] = seats
	}
	for _, id := range seatIDs {
		seats[id] = takenEntry{read: now, forgotten: true}
	}
}

// fresh: the entry may still confirm a refusal at now. A hold's end is read
// on the database clock and compared with this one; the entry's short life
// bounds what a skew between them can do.
func (c *takenCache) fresh(e takenEntry, now time.Time) bool {
	return !e.forgotten && now.Sub(e.read) < c.life && (e.Until.IsZero() || now.Before(e.Until))
}
