package memory

import "time"

// minPruneAt is the size below which the map is never swept: sweeping a small map
// costs more than the few expired entries it holds.
const minPruneAt = 1024

// expiring is a map from id to a value that lapses at a time of its own. A
// lapsed entry counts as absent at once; it is deleted once the map has doubled
// since the last sweep, so that abandoned entries cannot grow the map without
// bound while each write still costs amortised constant time. With maxBytes
// set, it also holds at most that many bytes (as put is told them): the
// entries written longest ago go first. It is not safe for concurrent use;
// its owner locks.
type expiring[V any] struct {
	m        map[string]expiringEntry[V]
	pruneAt  int
	maxBytes int
	bytes    int
	// order lists the writes in the order they happened, from head on, for
	// eviction; a write the map no longer has (replaced, deleted) is skipped.
	order []written
	head  int
	seq   uint64
}

type expiringEntry[V any] struct {
	v       V
	expires time.Time
	size    int
	seq     uint64
}

type written struct {
	id  string
	seq uint64
}

func newExpiring[V any](maxBytes int) expiring[V] {
	return expiring[V]{m: make(map[string]expiringEntry[V]), pruneAt: minPruneAt, maxBytes: maxBytes}
}

// get returns id's value and expiry if it has not lapsed at now.
func (e *expiring[V]) get(id string, now time.Time) (V, time.Time, bool) {
	if x, ok := e.m[id]; ok && now.Before(x.expires) {
		return x.v, x.expires, true
	}
	var zero V
	return zero, time.Time{}, false
}

// put sets id's value until expires; size is what it counts against maxBytes.
func (e *expiring[V]) put(id string, v V, size int, expires, now time.Time) {
	e.prune(now)
	e.delete(id)
	e.seq++
	e.m[id] = expiringEntry[V]{v: v, expires: expires, size: size, seq: e.seq}
	e.bytes += size
	if e.maxBytes > 0 {
		e.order = append(e.order, written{id, e.seq})
		e.evict()
	}
}

// evict drops the oldest writes until the map fits maxBytes.
func (e *expiring[V]) evict() {
	for e.bytes > e.maxBytes && e.head < len(e.order) {
		w := e.order[e.head]
		e.head++
		if x, ok := e.m[w.id]; ok && x.seq == w.seq {
			e.delete(w.id)
		}
	}
	// The skipped and evicted writes are garbage once they are most of order.
	if e.head > len(e.order)/2 && e.head > minPruneAt {
		e.order = append(e.order[:0], e.order[e.head:]...)
		e.head = 0
	}
}

func (e *expiring[V]) delete(id string) {
	if x, ok := e.m[id]; ok {
		e.bytes -= x.size
		delete(e.m, id)
	}
}

func (e *expiring[V]) len() int { return len(e.m) }

func (e *expiring[V]) prune(now time.Time) {
	if len(e.m) < e.pruneAt {
		return
	}
	for id, x := range e.m {
		if !now.Before(x.expires) {
			e.delete(id)
		}
	}
	e.pruneAt = max(2*len(e.m), minPruneAt)
	if e.maxBytes > 0 {
		// Rebuild order from what is left, so that it cannot outgrow the map.
		live := e.order[:0]
		for _, w := range e.order[e.head:] {
			if x, ok := e.m[w.id]; ok && x.seq == w.seq {
				live = append(live, w)
			}
		}
		e.order, e.head = live, 0
	}
}

// clock returns now's time, or the wall clock's if now is nil.
func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}
