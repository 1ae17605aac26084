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

// addMap remembers the show of every seat of a seat map that it does not know.
func (c *seatShowCache) addMap(m SeatMap) {
	c.mu.RLock()
	var missing map[string]string
	for _, seat := range m.Seats {
		if _, ok := c.m[seat.ID]; !ok {
			if missing == nil {
				missing = make(map[string]string, len(m.Seats))
			}
			missing[seat.ID] = m.ShowID
		}
	}
	c.mu.RUnlock()
	if missing != nil {
		c.add(missing)
	}
}
