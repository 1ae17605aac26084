package booking

import "sync"

// seatShowCache remembers which show each seat belongs to. A seat never moves to
// another show, so entries never go stale; the cache only bounds its size.
type seatShowCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const seatShowCacheMax = 1 << 20

func (c *seatShowCache) lookup(seatIDs []string) (shows map[string]string, missing []string) {
	shows = make(map[string]string, len(seatIDs))
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, id := range seatIDs {
		if show, ok := c.m[id]; ok {
			shows[id] = show
		} else {
			missing = append(missing, id)
		}
	}
	return shows, missing
}

func (c *seatShowCache) add(m map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(m) > seatShowCacheMax {
		c.m = make(map[string]string, len(m))
	}
	for id, show := range m {
		c.m[id] = show
	}
}

// addMap remembers the show of every seat of a seat map, unless it knows them:
// a show's seats are read and remembered together, so its first seat stands for
// all of them.
func (c *seatShowCache) addMap(m SeatMap) {
	if len(m.Seats) == 0 {
		return
	}
	c.mu.RLock()
	_, known := c.m[m.Seats[0].ID]
	c.mu.RUnlock()
	if known {
		return
	}
	seats := make(map[string]string, len(m.Seats))
	for _, seat := range m.Seats {
		seats[seat.ID] = m.ShowID
	}
	c.add(seats)
}
