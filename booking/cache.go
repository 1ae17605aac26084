package booking

import "sync"

// SeatRef is where a seat belongs and what it is called.
type SeatRef struct {
	ShowID string
	Label  string
}

// seatCache remembers each seat's show and label. A seat never moves to
// another show nor changes its name, so entries never go stale; the cache only
// bounds its size.
type seatCache struct {
	mu sync.RWMutex
	m  map[string]SeatRef
}

const seatCacheMax = 1 << 20

func (c *seatCache) lookup(seatIDs []string) (refs map[string]SeatRef, missing []string) {
	refs = make(map[string]SeatRef, len(seatIDs))
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, id := range seatIDs {
		if ref, ok := c.m[id]; ok {
			refs[id] = ref
		} else {
			missing = append(missing, id)
		}
	}
	return refs, missing
}

// label returns a seat's label, or "" if the cache does not know the seat.
func (c *seatCache) label(seatID string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[seatID].Label
}

func (c *seatCache) add(m map[string]SeatRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(m) > seatCacheMax {
		c.m = make(map[string]SeatRef, len(m))
	}
	for id, ref := range m {
		c.m[id] = ref
	}
}

// addMap remembers every seat of a seat map that it does not know.
func (c *seatCache) addMap(m SeatMap) {
	c.mu.RLock()
	var missing map[string]SeatRef
	for _, seat := range m.Seats {
		if _, ok := c.m[seat.ID]; !ok {
			if missing == nil {
				missing = make(map[string]SeatRef, len(m.Seats))
			}
			missing[seat.ID] = SeatRef{ShowID: m.ShowID, Label: seat.Label}
		}
	}
	c.mu.RUnlock()
	if missing != nil {
		c.add(missing)
	}
}
