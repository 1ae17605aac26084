package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"seatmanager/booking"
)

// feed follows one show's event log for every viewer of it on this instance:
// one reader, however many sockets. It keeps the show's seats as the log has
// them, so that a new viewer's snapshot costs no database read, and the
// frames of its recent events, each encoded once for every socket.
//
// The sockets read the feed through view, which the reader replaces after
// each read of the log: thousands of sockets woken by one change take no
// lock to find their frames.
type feed struct {
	hub  *Hub
	show string
	wake chan struct{} // a change may have been logged; capacity 1

	ready   chan struct{} // closed once loaded (or failed to)
	loadErr error

	view atomic.Pointer[feedView]

	mu      sync.Mutex // the seats, the snapshot and the viewers
	seats   []Seat
	index   map[string]int // seat id → its place in seats
	snap    []byte         // the encoded snapshot at snapSeq; nil once stale
	snapSeq int64
	viewers int
	idle    time.Time // when the last viewer left
}

// feedView is the feed as of one read of the log. It never changes; the
// reader publishes a new one.
type feedView struct {
	seq      int64
	ring     []chunk       // consecutive, oldest first, ending at seq
	ringLen  int           // events in ring
	advanced chan struct{} // closed when a newer view is published
	merged   sync.Map      // seq → the encoded frame of the events after it (see after)
	// woken is when the reader was woken for the view's newest events: their
	// wait for a quiet moment (Config.Yield) counts from it.
	woken time.Time
}

// start is the first seq the view's frames have.
func (v *feedView) start() int64 {
	if len(v.ring) > 0 {
		return v.ring[0].first()
	}
	return v.seq + 1
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
	f.seats = make([]Seat, len(m.Seats))
	f.index = make(map[string]int, len(m.Seats))
	for i, s := range m.Seats {
		f.seats[i] = SeatOf(s)
		f.index[s.ID] = i
	}
	f.snap = nil
	// No frames before m.Seq: viewers behind it get a snapshot.
	f.publish(&feedView{seq: m.Seq, woken: time.Now()})
	return nil
}

// publish makes v the feed's view and wakes the viewers waiting on the last.
func (f *feed) publish(v *feedView) {
	v.advanced = make(chan struct{})
	if old := f.view.Swap(v); old != nil {
		close(old.advanced)
	}
}

// run reads the log whenever it is woken, and every PollInterval in case a
// wake-up was lost, until ctx ends or the feed has had no viewer for
// IdleAfter. The log is the source of truth: a late or lost wake-up only
// delays events, never skips or reorders them, since each read starts after
// the last seq read.
func (f *feed) run(ctx context.Context) {
	tick := time.NewTicker(f.hub.cfg.PollInterval)
	defer tick.Stop()
	var last time.Time
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
		woken := time.Now()
		// A burst's changes gather while the last read's frames go out:
		// every frame is a write to each socket of the show.
		if wait := f.hub.cfg.Gather - woken.Sub(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		}
		if !f.hub.yield(ctx, woken) {
			return
		}
		last = time.Now()
		f.catchUp(ctx, woken)
	}
}

// pageSize is how many events one read of the log takes.
const pageSize = 1000

// catchUp reads and applies every event logged after the feed's seq, for
// which the reader was woken at woken, and says how many.
func (f *feed) catchUp(ctx context.Context, woken time.Time) (n int) {
	for {
		after := f.view.Load().seq
		events, err := f.hub.cfg.Log.Events(ctx, f.show, after, pageSize)
		if err != nil {
			if ctx.Err() == nil {
				f.hub.cfg.Logger.Warn("read the event log", "show", f.show, "err", err)
			}
			return n
		}
		if len(events) == 0 {
			return n
		}
		if events[0].Seq != after+1 {
			// The log no longer has what follows our seq (pruned past it, or a
			// database restored from an older backup): start again from the
			// seat map.
			if err := f.load(ctx); err != nil && ctx.Err() == nil {
				f.hub.cfg.Logger.Warn("reload a show whose events were pruned", "show", f.show, "err", err)
				return n
			}
			continue
		}
		f.apply(events, woken)
		n += len(events)
		if len(events) < pageSize {
			return n
		}
	}
}

// apply adds consecutive events after the feed's seq.
func (f *feed) apply(events []booking.Event, woken time.Time) {
	data := encodeEvents(f.show, events)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		if i, ok := f.index[e.SeatID]; ok {
			f.seats[i].Status = e.Status
		}
	}
	f.snap = nil
	old := f.view.Load()
	// Appending never changes what an older view sees: it has its own length.
	v := &feedView{seq: events[len(events)-1].Seq, ring: append(old.ring, chunk{events: events, data: data}), ringLen: old.ringLen + len(events), woken: woken}
	for v.ringLen > f.hub.cfg.RingEvents && len(v.ring) > 1 {
		v.ringLen -= len(v.ring[0].events)
		v.ring = v.ring[1:]
	}
	f.publish(v)
}

// update is what a viewer that has seen everything up to some seq is sent next.
type update struct {
	frames   []outFrame
	seq      int64     // where the frames bring the viewer
	newest   time.Time // the commit time of the newest event sent
	snapshot bool      // the frames are a snapshot
	wait     <-chan struct{}
}

// since returns the frame that follows seq after: the events from the
// recent frames, or a snapshot if the viewer is further behind than those
// reach (coalesced: the latest status of each seat). A negative after asks
// for a snapshot.
func (f *feed) since(after int64) update {
	v := f.view.Load()
	u := update{seq: after, wait: v.advanced}
	if after >= v.seq {
		return u
	}
	if after < 0 || after+1 < v.start() {
		data, seq := f.snapshot()
		u.frames, u.seq, u.snapshot = []outFrame{{data: data}}, seq, true
		return u
	}
	u.frames = []outFrame{v.after(f.show, after)}
	last := v.ring[len(v.ring)-1]
	u.seq, u.newest = v.seq, last.events[len(last.events)-1].At
	return u
}

// after returns the view's events after seq after as one frame: a viewer
// that was kept waiting gets what it missed in one write. Each such frame is
// encoded once for all the viewers at that seq.
func (v *feedView) after(show string, after int64) outFrame {
	n := int(v.seq - after)
	if last := v.ring[len(v.ring)-1]; last.first() == after+1 {
		return outFrame{last.data, n}
	}
	if b, ok := v.merged.Load(after); ok {
		return outFrame{b.([]byte), n}
	}
	events := make([]booking.Event, 0, n)
	for _, c := range v.ring {
		if c.last() > after {
			events = append(events, c.events[max(0, after-c.first()+1):]...)
		}
	}
	b, _ := v.merged.LoadOrStore(after, encodeEvents(show, events))
	return outFrame{b.([]byte), n}
}

// snapshot returns the encoded snapshot of the seats as they are, and its
// seq, encoding it once per seq.
func (f *feed) snapshot() ([]byte, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := f.view.Load().seq // the reader publishes under f.mu too
	if f.snap == nil || f.snapSeq != seq {
		f.snap, f.snapSeq = encodeSnapshot(f.show, seq, f.seats), seq
	}
	return f.snap, seq
}

// current returns the feed's seq.
func (f *feed) current() int64 { return f.view.Load().seq }

// awaitSeq waits until the feed has read up to seq, or d passes.
func (f *feed) awaitSeq(ctx context.Context, seq int64, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		v := f.view.Load()
		if v.seq >= seq {
			return true
		}
		f.poke()
		select {
		case <-v.advanced:
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
