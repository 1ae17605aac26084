package live

import (
	"context"
	"errors"
	"time"

	"sync"

	"seatmanager/booking"
)

// feed follows one show's event log for every viewer of it on this instance:
// one reader, however many sockets. It keeps the show's seats as the log has
// them, so that a new viewer's snapshot costs no database read, and the
// frames of its recent events, each encoded once for every socket.
type feed struct {
	hub  *Hub
	show string
	wake chan struct{} // a change may have been logged; capacity 1

	ready   chan struct{} // closed once loaded (or failed to)
	loadErr error

	mu       sync.Mutex
	seq      int64
	seats    []Seat
	index    map[string]int // seat id → its place in seats
	snap     []byte         // the encoded snapshot at snapSeq; nil once stale
	snapSeq  int64
	ring     []chunk // consecutive, oldest first
	ringLen  int     // events in ring
	advanced chan struct{}
	viewers  int
	idle     time.Time // when the last viewer left
}

// outFrame is a frame to write, and how many events it carries.
type outFrame struct {
	data   []byte
	events int
}

// chunk is events read together, and their frame.
type chunk struct {
	events []booking.Event
	data   []byte
}

func (c chunk) first() int64 { return c.events[0].Seq }
func (c chunk) last() int64  { return c.events[len(c.events)-1].Seq }

// load reads the show's seat map: the feed starts at its seq.
func (f *feed) load(ctx context.Context) error {
	m, err := f.hub.cfg.Log.SeatMap(ctx, f.show)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reset(m)
	return nil
}

// reset makes m the feed's state, dropping the frames before it. Viewers
// behind it get a snapshot.
func (f *feed) reset(m booking.SeatMap) {
	f.seq = m.Seq
	f.seats = make([]Seat, len(m.Seats))
	f.index = make(map[string]int, len(m.Seats))
	for i, s := range m.Seats {
		f.seats[i] = SeatOf(s)
		f.index[s.ID] = i
	}
	f.snap, f.ring, f.ringLen = nil, nil, 0
	f.advance()
}

// advance tells the viewers waiting that there is more.
func (f *feed) advance() {
	if f.advanced != nil {
		close(f.advanced)
	}
	f.advanced = make(chan struct{})
}

// run reads the log whenever it is woken, and every PollInterval in case a
// wake-up was lost, until ctx ends or the feed has had no viewer for
// IdleAfter. The log is the source of truth: a late or lost wake-up only
// delays events, never skips or reorders them, since each read starts after
// the last seq read.
func (f *feed) run(ctx context.Context) {
	tick := time.NewTicker(f.hub.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-tick.C:
			if f.hub.retire(f) {
				return
			}
		}
		f.catchUp(ctx)
	}
}

// pageSize is how many events one read of the log takes.
const pageSize = 1000

// catchUp reads and applies every event logged after the feed's seq.
func (f *feed) catchUp(ctx context.Context) {
	for {
		f.mu.Lock()
		after := f.seq
		f.mu.Unlock()
		events, err := f.hub.cfg.Log.Events(ctx, f.show, after, pageSize)
		if err != nil {
			if ctx.Err() == nil {
				f.hub.cfg.Logger.Warn("read the event log", "show", f.show, "err", err)
			}
			return
		}
		if len(events) == 0 {
			return
		}
		if events[0].Seq != after+1 {
			// The log no longer has what follows our seq (pruned past it, or a
			// database restored from an older backup): start again from the
			// seat map.
			if err := f.load(ctx); err != nil && ctx.Err() == nil {
				f.hub.cfg.Logger.Warn("reload a show whose events were pruned", "show", f.show, "err", err)
				return
			}
			continue
		}
		f.apply(events)
		if len(events) < pageSize {
			return
		}
	}
}

// apply adds consecutive events after the feed's seq.
func (f *feed) apply(events []booking.Event) {
	data := encodeEvents(f.show, events)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		if i, ok := f.index[e.SeatID]; ok {
			f.seats[i].Status = e.Status
		}
	}
	f.seq = events[len(events)-1].Seq
	f.snap = nil
	f.ring = append(f.ring, chunk{events: events, data: data})
	f.ringLen += len(events)
	for f.ringLen > f.hub.cfg.RingEvents && len(f.ring) > 1 {
		f.ringLen -= len(f.ring[0].events)
		f.ring = f.ring[1:]
	}
	f.advance()
}

// update is what a viewer that has seen everything up to some seq is sent next.
type update struct {
	frames   []outFrame
	seq      int64     // where the frames bring the viewer
	newest   time.Time // the commit time of the newest event sent
	snapshot bool      // the frames are a snapshot
	wait     <-chan struct{}
}

// since returns the frames that follow seq after: the events from the
// recent frames, or a snapshot if the viewer is further behind than those
// reach (coalesced: the latest status of each seat). A negative after asks
// for a snapshot.
func (f *feed) since(after int64) update {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := update{seq: after, wait: f.advanced}
	if after >= f.seq {
		return u
	}
	start := f.seq + 1
	if len(f.ring) > 0 {
		start = f.ring[0].first()
	}
	if after < 0 || after+1 < start {
		if f.snap == nil || f.snapSeq != f.seq {
			f.snap, f.snapSeq = encodeSnapshot(f.show, f.seq, f.seats), f.seq
		}
		u.frames, u.seq, u.snapshot = []outFrame{{data: f.snap}}, f.seq, true
		return u
	}
	for _, c := range f.ring {
		switch {
		case c.last() <= after:
			continue
		case c.first() > after:
			u.frames = append(u.frames, outFrame{c.data, len(c.events)})
		default:
			rest := c.events[after-c.first()+1:]
			u.frames = append(u.frames, outFrame{encodeEvents(f.show, rest), len(rest)})
		}
		u.newest = c.events[len(c.events)-1].At
	}
	u.seq = f.seq
	return u
}

// current returns the feed's seq.
func (f *feed) current() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}

// awaitSeq waits until the feed has read up to seq, or d passes.
func (f *feed) awaitSeq(ctx context.Context, seq int64, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		at, wait := f.seq, f.advanced
		f.mu.Unlock()
		if at >= seq {
			return true
		}
		f.poke()
		select {
		case <-wait:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// poke asks the reader to read the log now.
func (f *feed) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

var errClosed = errors.New("live: closed")
