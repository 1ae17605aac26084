package inflight

import (
	"sync"
	"testing"
	"time"
)

func TestBusyOverLimit(t *testing.T) {
	c := New(1, 0)
	if c.Busy() != nil {
		t.Fatal("busy with nothing in flight")
	}
	c.Enter()
	if c.Busy() != nil {
		t.Fatal("busy at the limit")
	}
	c.Enter()
	q := c.Busy()
	if q == nil {
		t.Fatal("not busy over the limit")
	}
	select {
	case <-q:
		t.Fatal("quiet while over the limit")
	default:
	}
	c.Leave()
	select {
	case <-q:
	default:
		t.Fatal("back at the limit, the waiters were not woken")
	}
	if c.Busy() != nil {
		t.Fatal("busy back at the limit")
	}
	c.Enter()
	if q2 := c.Busy(); q2 == nil || q2 == q {
		t.Fatal("a new busy spell must have a new channel")
	}
}

// TestConcurrent: many goroutines entering and leaving end with nothing in
// flight and not busy; any channel handed out was closed (run with -race).
func TestConcurrent(t *testing.T) {
	c := New(0, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seen []<-chan struct{}
	for range 64 {
		wg.Go(func() {
			for range 200 {
				c.Enter()
				if q := c.Busy(); q != nil {
					mu.Lock()
					seen = append(seen, q)
					mu.Unlock()
				}
				c.Leave()
			}
		})
	}
	wg.Wait()
	if c.Busy() != nil {
		t.Fatal("busy with nothing in flight")
	}
	// The count is back at zero, not below: one request makes it busy again.
	c.Enter()
	if c.Busy() == nil {
		t.Fatal("one request over a limit of 0 did not make it busy: the count went wrong")
	}
	c.Leave()
	for _, q := range seen {
		select {
		case <-q:
		default:
			t.Fatal("a busy spell's channel was never closed")
		}
	}
}

// TestSettle: the busy spell outlasts the requests by the settle time, and a
// request within it continues the same spell.
func TestSettle(t *testing.T) {
	const settle = 50 * time.Millisecond
	c := New(0, settle)
	c.Enter()
	q := c.Busy()
	c.Leave()
	if c.Busy() != q {
		t.Fatal("the spell ended before it settled")
	}
	c.Enter() // within the settle time: the same spell
	if c.Busy() != q {
		t.Fatal("a request within the settle time began a new spell")
	}
	left := time.Now()
	c.Leave()
	select {
	case <-q:
		if d := time.Since(left); d < settle {
			t.Errorf("the spell ended %v after the last request; want at least %v", d, settle)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the spell did not end within 10s of the last request")
	}
	if c.Busy() != nil {
		t.Error("busy after the spell ended")
	}
}
