// Package inflight counts the seat changes an instance is answering, so that
// work nobody waits on (writing live seat maps to thousands of sockets) can
// wait for a quiet moment: on two cores, a storm's buyers and its viewers
// compete for the same CPU, and the buyers are the ones holding a request open.
package inflight

import (
	"sync"
	"sync/atomic"
	"time"
)

// Counter counts requests in flight. It is busy while more than its limit
// are, and until no more have been for its settle time; the zero value is not
// usable, call New.
type Counter struct {
	limit  int
	settle time.Duration
	mu     sync.Mutex // serializes Enter, Leave and the settle timer
	n      int
	quiet  atomic.Pointer[chan struct{}] // closed when the busy spell ends; nil while not busy
	timer  *time.Timer                   // ends the spell once settled; nil unless running
}

// New returns a counter that is busy while more than limit requests are in
// flight, and for settle after: bursts a moment apart (a storm's waves of
// buyers) make one busy spell, not a quiet moment between each.
func New(limit int, settle time.Duration) *Counter {
	return &Counter{limit: max(limit, 0), settle: settle}
}

// Enter counts a request in; Leave counts it out.
func (c *Counter) Enter() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.n <= c.limit {
		return
	}
	if c.timer != nil {
		c.timer.Stop() // busy again before the spell settled: it goes on
		c.timer = nil
	}
	if c.quiet.Load() == nil {
		q := make(chan struct{})
		c.quiet.Store(&q)
	}
}

// Leave counts a request out; back at the limit, the busy spell ends once it
// has settled.
func (c *Counter) Leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n > c.limit || c.quiet.Load() == nil || c.timer != nil {
		return
	}
	if c.settle <= 0 {
		c.end()
		return
	}
	var t *time.Timer
	t = time.AfterFunc(c.settle, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.timer == t { // not stopped by an Enter since
			c.timer = nil
			c.end()
		}
	})
	c.timer = t
}

// end ends the busy spell and wakes its waiters; c.mu is held.
func (c *Counter) end() {
	if q := c.quiet.Load(); q != nil {
		c.quiet.Store(nil)
		close(*q)
	}
}

// Busy returns nil outside a busy spell, or else a channel that is closed
// when the spell ends: no more than the limit in flight, for the settle
// time. It takes no lock.
func (c *Counter) Busy() <-chan struct{} {
	if q := c.quiet.Load(); q != nil {
		return *q
	}
	return nil
}
