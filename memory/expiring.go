package memory

import "time"

// minPruneAt is the size below which the map is never swept: sweeping a small map
// costs more than the few expired entries it holds.
const minPruneAt = 1024

// expiring is a map from id to a value that lapses at a time of its own. A
// lapsed entry counts as absent at once; it is deleted once the map has doubled
// since the last sweep, so that abandoned entries cannot grow the map without
// bound while each write still costs amortised constant time. It is not safe
// for concurrent use; its owner locks.
type expiring[V any] struct {
	m       map[string]expiringEntry[V]
	pruneAt int
}

type expiringEntry[V any] struct {
	v       V
	expires time.Time
}

func newExpiring[V any]() expiring[V] {
	return expiring[V]{m: make(map[string]expiringEntry[V]), pruneAt: minPruneAt}
}

// get returns id's value and expiry if it has not lapsed at now.
func (e *expiring[V]) get(id string, now time.Time) (V, time.Time, bool) {
	if x, ok := e.m[id]; ok && now.Before(x.expires) {
		return x.v, x.expires, true
	}
	var zero V
	return zero, time.Time{}, false
}

// put sets id's value until expires.
func (e *expiring[V]) put(id string, v V, expires, now time.Time) {
	e.prune(now)
	e.m[id] = expiringEntry[V]{v: v, expires: expires}
}

func (e *expiring[V]) delete(id string) { delete(e.m, id) }

func (e *expiring[V]) len() int { return len(e.m) }

func (e *expiring[V]) prune(now time.Time) {
	if len(e.m) < e.pruneAt {
		return
	}
	for id, x := range e.m {
		if !now.Before(x.expires) {
			delete(e.m, id)
		}
	}
	e.pruneAt = max(2*len(e.m), minPruneAt)
}

// clock returns now's time, or the wall clock's if now is nil.
func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}
