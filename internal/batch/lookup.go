package batch

import "context"

// Lookup answers concurrent lookups of keys with few reads: while its
// readers are busy, the lookups that arrive wait for the next free one, which
// reads every key they ask for at once. A lookup's read begins after it was asked,
// so it sees everything committed before.
type Lookup[K comparable, V any] struct {
	q *Queue[[]K, map[K]V]
}

// NewLookup returns a lookup that reads with read, which returns the value of
// each key it finds; keys it leaves out are absent. workers reads run at once.
func NewLookup[K comparable, V any](workers int, read func(ctx context.Context, keys []K) (map[K]V, error)) *Lookup[K, V] {
	return &Lookup[K, V]{q: New(Config[[]K, map[K]V]{
		Max: 256, Workers: workers,
		Run: func(ctx context.Context, lookups [][]K) []Result[map[K]V] {
			seen := make(map[K]bool)
			var all []K
			for _, keys := range lookups {
				for _, k := range keys {
					if !seen[k] {
						seen[k] = true
						all = append(all, k)
					}
				}
			}
			found, err := read(ctx, all)
			out := make([]Result[map[K]V], len(lookups))
			for i, keys := range lookups {
				if err != nil {
					out[i].Err = err
					continue
				}
				mine := make(map[K]V, len(keys))
				for _, k := range keys {
					if v, ok := found[k]; ok {
						mine[k] = v
					}
				}
				out[i].Value = mine
			}
			return out
		},
	})}
}

// Get returns the values of keys that exist.
func (l *Lookup[K, V]) Get(ctx context.Context, keys []K) (map[K]V, error) {
	return l.q.Do(ctx, keys)
}

// Close stops the lookup; lookups after it fail with ErrClosed.
func (l *Lookup[K, V]) Close() { l.q.Close() }
