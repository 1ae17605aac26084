// Package live sends every viewer of a show each seat change as it is
// committed, over a WebSocket: a snapshot of the seat map, then the show's
// events in seq order, never skipping or repeating one.
//
// The event log, committed with every seat change, is the source of truth;
// notifications (in process, Redis pub/sub, PostgreSQL LISTEN/NOTIFY) only
// wake the readers. One reader per show per instance serves all of that
// show's sockets on it, and each frame is encoded once for all of them.
package live

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"

	"seatmanager/booking"
)

// Log is what the hub reads: the event log and the seat map.
type Log interface {
	// SeatMap returns every seat of a show and the seq of its latest
	// event, read together; ErrNotFound for an unknown show.
	SeatMap(ctx context.Context, showID string) (booking.SeatMap, error)
	// Events returns up to limit events of a show after afterSeq, in order.
	Events(ctx context.Context, showID string, afterSeq int64, limit int) ([]booking.Event, error)
}

// Observer is told what the hub does, for metrics. Every field is optional.
type Observer struct {
	// SocketOpened and SocketClosed count the open sockets; why is "client",
	// "slow" (a write did not finish in time), "shutdown" or "error".
	SocketOpened func()
	SocketClosed func(why string)
	// FrameSent is called for each frame written, with its events (zero for a
	// snapshot) and how long after the newest of them was committed.
	FrameSent func(events int, delay time.Duration)
	// Coalesced is called when a viewer that fell behind gets a snapshot
	// instead of the events it missed.
	Coalesced func()
}

// Config is what a Hub needs. Log is required.
type Config struct {
	Log Log
	// PollInterval is how often a show with viewers reads its log although
	// nobody woke it, in case a wake-up was lost. Default 1s.
	PollInterval time.Duration
	// Gather is the least time between two reads of a show's log, so that
	// the changes of a burst reach the sockets in a few frames rather than one
	// each: a change after a quiet spell is read at once. Default 10ms.
	Gather time.Duration
	// Busy, if set, says whether the instance is busy answering seat
	// changes: nil if not, else a channel closed when it no longer is. While
	// it is, the log is not read and frames are not written, for up to Yield
	// after a change: on a machine short of CPU, a storm's buyers are
	// answered first and its viewers then get what they missed in one frame.
	Busy func() <-chan struct{}
	// Yield is about the longest a change waits for the instance to stop
	// being busy before it goes out anyway (counted from when the reader was
	// woken for it; Gather comes on top). Default 1s.
	Yield time.Duration
	// RingEvents is how many recent events a show keeps as frames; a viewer
	// further behind gets a snapshot. Default 4096.
	RingEvents int
	// MaxBacklog is how far behind the recent frames a viewer may be and
	// still get the events it missed, read from the log; one further behind
	// gets a snapshot. Default 10000.
	MaxBacklog int64
	// IdleAfter is how long a show's reader keeps going without viewers.
	// Default 30s.
	IdleAfter time.Duration
	// WriteTimeout bounds each frame's write: a viewer that cannot take it
	// in that time is closed with CloseSlow. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often a quiet socket is pinged, to find dead peers.
	// Default 30s.
	PingInterval time.Duration
	// OriginPatterns are the origins besides the request's own host that
	// may open sockets (see websocket.AcceptOptions). Default none.
	OriginPatterns []string
	// MaxSockets bounds the open sockets of this instance. Default 20000.
	MaxSockets int
	Logger     *slog.Logger
	Observer   Observer
}

// CloseSlow is the close code of a viewer whose socket did not take a frame
// within WriteTimeout: it reconnects with sinceSeq.
const CloseSlow websocket.StatusCode = 4000

// Hub is every show's feed on this instance, and their sockets.
type Hub struct {
	cfg    Config
	ctx    context.Context // ended by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	feeds   map[string]*feed
	sockets int
	closed  bool
	wg      sync.WaitGroup // the feeds' readers and the sockets
}

// New returns a hub reading cfg.Log.
func New(cfg Config) *Hub {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Gather <= 0 {
		cfg.Gather = 10 * time.Millisecond
	}
	if cfg.Busy == nil {
		cfg.Busy = func() <-chan struct{} { return nil }
	}
	if cfg.Yield <= 0 {
		cfg.Yield = time.Second
	}
	if cfg.RingEvents <= 0 {
		cfg.RingEvents = 4096
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = 10 * pageSize
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 30 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = 20000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	o := &cfg.Observer
	if o.SocketOpened == nil {
		o.SocketOpened = func() {}
	}
	if o.SocketClosed == nil {
		o.SocketClosed = func(string) {}
	}
	if o.FrameSent == nil {
		o.FrameSent = func(int, time.Duration) {}
	}
	if o.Coalesced == nil {
		o.Coalesced = func() {}
	}
	h := &Hub{cfg: cfg, feeds: map[string]*feed{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// Wake tells the hub that a show changed: its reader, if it has one, reads
// the log. It never blocks.
func (h *Hub) Wake(showID string) {
	h.mu.Lock()
	f := h.feeds[showID]
	h.mu.Unlock()
	if f != nil {
		f.poke()
	}
}

// yield waits while the instance is busy (Config.Busy), but not past Yield
// after from. It reports false if ctx ended first.
func (h *Hub) yield(ctx context.Context, from time.Time) bool {
	for {
		quiet := h.cfg.Busy()
		left := h.cfg.Yield - time.Since(from)
		if quiet == nil || left <= 0 {
			return true
		}
		t := time.NewTimer(left)
		select {
		case <-quiet:
			t.Stop()
		case <-t.C:
			return true
		case <-h.ctx.Done(): // closing: the caller says "going away"
			t.Stop()
			return true
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// join returns the show's feed, loaded, with one more viewer; leave undoes it.
func (h *Hub) join(ctx context.Context, showID string) (*feed, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errClosed
	}
	f := h.feeds[showID]
	if f == nil {
		f = &feed{hub: h, show: showID, wake: make(chan struct{}, 1), ready: make(chan struct{})}
		h.feeds[showID] = f
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			f.loadErr = f.load(h.ctx)
			close(f.ready)
			if f.loadErr != nil {
				h.drop(f)
				return
			}
			f.run(h.ctx)
		}()
	}
	f.mu.Lock()
	f.viewers++
	f.mu.Unlock()
	h.mu.Unlock()
	select {
	case <-f.ready:
	case <-ctx.Done():
		h.leave(f)
		return nil, ctx.Err()
	}
	if f.loadErr != nil {
		h.leave(f)
		return nil, f.loadErr
	}
	return f, nil
}

func (h *Hub) leave(f *feed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewers--
	if f.viewers == 0 {
		f.idle = time.Now()
	}
}

// drop forgets a feed that could not load.
func (h *Hub) drop(f *feed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.feeds[f.show] == f {
		delete(h.feeds, f.show)
	}
}

// retire forgets a feed that has had no viewer for IdleAfter, and reports
// whether it did; its reader then stops.
func (h *Hub) retire(f *feed) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.viewers > 0 || time.Since(f.idle) < h.cfg.IdleAfter {
		return false
	}
	delete(h.feeds, f.show)
	return true
}

// Close closes every socket with "going away", stops the readers and waits
// for them. Call it once the HTTP server has finished its other requests.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	// Each socket closes itself when the hub's context ends, all at once:
	// a close handshake waits for the peer.
	h.cancel()
	h.wg.Wait()
}
