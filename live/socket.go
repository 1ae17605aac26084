package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"seatmanager/booking"
)

// ErrTooManySockets: the instance has MaxSockets open; the viewer should
// try again later (or another instance).
var ErrTooManySockets = fmt.Errorf("too many viewers on this instance: %w", booking.ErrUnavailable)

// The handshakes Serve refuses, as kinds of HandshakeError; a malformed one
// (no key, another version) is booking.ErrInvalid.
var (
	ErrNotWebSocket  = errors.New("not a WebSocket upgrade request")
	ErrForeignOrigin = errors.New("origin not allowed")
)

// HandshakeError is a WebSocket handshake the library refused: Err says why,
// Kind is ErrNotWebSocket, ErrForeignOrigin or booking.ErrInvalid.
type HandshakeError struct{ Kind, Err error }

func (e *HandshakeError) Error() string   { return e.Err.Error() }
func (e *HandshakeError) Unwrap() []error { return []error{e.Kind, e.Err} }

// handshakeWriter keeps the library's refusal of a handshake (a plain-text
// http.Error) from the client, so that Serve's caller answers it as it answers
// every error; the upgrade passes through, and Unwrap lets the library hijack
// the connection.
type handshakeWriter struct {
	http.ResponseWriter
	refused int  // the status the library refused the handshake with
	wrote   bool // a status went through: the answer is the library's
}

func (w *handshakeWriter) WriteHeader(code int) {
	if code >= 400 && !w.wrote {
		w.refused = code
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *handshakeWriter) Write(b []byte) (int, error) {
	if w.refused != 0 && !w.wrote {
		return len(b), nil
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *handshakeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// refusal is the error of a handshake the library refused, nil if it
// answered the request itself.
func (w *handshakeWriter) refusal(err error) error {
	if w.refused == 0 || w.wrote {
		return nil
	}
	// What http.Error set for its plain text.
	w.Header().Del("Content-Type")
	w.Header().Del("X-Content-Type-Options")
	kind := booking.ErrInvalid
	switch w.refused {
	case http.StatusUpgradeRequired:
		kind = ErrNotWebSocket
	case http.StatusForbidden:
		kind = ErrForeignOrigin
	case http.StatusNotImplemented, http.StatusInternalServerError:
		return err // the server's failure: an internal error
	}
	return &HandshakeError{Kind: kind, Err: err}
}

// Serve upgrades r to a WebSocket and streams the show to it: a snapshot,
// then every event in seq order. With since, a viewer that reconnects gets
// exactly the events after since, with no snapshot, while the log still has
// them. An error it returns comes before the upgrade, for the caller to
// answer: booking.ErrNotFound for an unknown show, booking.ErrInvalid for a
// since ahead of the show, ErrTooManySockets, a *HandshakeError for a request
// that is no WebSocket handshake or comes from a foreign origin. After the
// upgrade it answers everything itself and returns nil once the socket is
// closed.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, showID string, since *int64) error {
	if !h.admit() {
		return ErrTooManySockets
	}
	defer h.release()
	f, err := h.join(r.Context(), showID)
	if err != nil {
		return err
	}
	defer h.leave(f)
	next := int64(-1) // a snapshot first
	var backlog [][]byte
	if since != nil {
		// The reader may be waiting out a busy spell (Config.Yield) before it
		// reads the events this viewer saw on another instance.
		if *since > f.current() && !f.awaitSeq(r.Context(), *since, time.Second+h.cfg.Yield+h.cfg.Gather) {
			return booking.Invalidf("sinceSeq %d is ahead of the show's latest event %d", *since, f.current())
		}
		backlog, next, err = h.backlog(r.Context(), f, *since)
		if err != nil {
			return err
		}
	}
	hw := &handshakeWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns})
	if err != nil {
		h.cfg.Logger.Debug("websocket not accepted", "show", showID, "err", err)
		return hw.refusal(err)
	}
	h.cfg.Observer.SocketOpened()
	why := h.stream(c, f, next, backlog)
	h.cfg.Observer.SocketClosed(why)
	return nil
}

// admit counts a socket in, unless there are too many or the hub is closed.
func (h *Hub) admit() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.sockets >= h.cfg.MaxSockets {
		return false
	}
	h.sockets++
	h.wg.Add(1)
	return true
}

func (h *Hub) release() {
	h.mu.Lock()
	h.sockets--
	h.mu.Unlock()
	h.wg.Done()
}

// backlog returns, as frames, the events after since that the feed's recent
// frames no longer reach, read from the log, and the seq they bring the
// viewer to. If the log does not have them all any more, or they are too
// many, the viewer gets a snapshot instead (seq -1).
func (h *Hub) backlog(ctx context.Context, f *feed, since int64) ([][]byte, int64, error) {
	u, err := h.readBacklog(ctx, f, since)
	frames := make([][]byte, len(u.frames))
	for i, fr := range u.frames {
		frames[i] = fr.data
	}
	return frames, u.seq, err
}

// readBacklog is backlog, as an update.
func (h *Hub) readBacklog(ctx context.Context, f *feed, since int64) (update, error) {
	start := f.view.Load().start()
	u := update{seq: since}
	if start-1-since > h.cfg.MaxBacklog {
		return update{seq: -1}, nil
	}
	for u.seq+1 < start {
		events, err := h.cfg.Log.Events(ctx, f.show, u.seq, min(pageSize, int(start-1-u.seq)))
		if err != nil {
			return update{}, err
		}
		if len(events) == 0 || events[0].Seq != u.seq+1 {
			return update{seq: -1}, nil // pruned: a snapshot
		}
		u.frames = append(u.frames, outFrame{encodeEvents(f.show, events), len(events)})
		u.seq = events[len(events)-1].Seq
		u.newest = events[len(events)-1].At
	}
	return u, nil
}

// stream writes the viewer's frames until it leaves, falls too far behind to
// take them, or the hub closes, and says which.
func (h *Hub) stream(c *websocket.Conn, f *feed, next int64, backlog [][]byte) string {
	// Viewers send nothing; reading is what answers pings and notices the
	// peer's close. Its context must not be the hub's: a read whose context
	// ends drops the connection, and a hub closing says "going away" first.
	ctx := c.CloseRead(context.Background())
	for _, b := range backlog {
		if why := h.write(ctx, c, b); why != "" {
			return why
		}
	}
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	for {
		if h.ctx.Err() != nil {
			return h.end(c, "shutdown")
		}
		if v := f.view.Load(); next >= 0 && v.seq > next && h.cfg.Busy() != nil && time.Since(v.woken) < h.cfg.Yield {
			// Events to send while the instance is busy: the buyers first,
			// then everything since in one frame, within Yield of the
			// reader's wake-up. Checked before every write (and before any
			// read of the log), so that a storm's next burst pauses the
			// writes of the last quiet moment. New viewers get their
			// snapshot at once.
			if !h.yield(ctx, v.woken) {
				return h.end(c, "client")
			}
			continue
		}
		u := f.since(next)
		if u.snapshot && next >= 0 {
			// Behind the recent frames: the log has the events still,
			// unless the viewer is very far behind; then a snapshot, the
			// latest status of each seat, takes their place.
			if b, err := h.readBacklog(ctx, f, next); err == nil && b.seq >= 0 {
				u = b
			} else {
				h.cfg.Observer.Coalesced()
			}
		}
		for _, fr := range u.frames {
			if why := h.write(ctx, c, fr.data); why != "" {
				return why
			}
			h.cfg.Observer.FrameSent(fr.events, time.Since(u.newest))
		}
		next = u.seq
		if len(u.frames) > 0 {
			continue
		}
		select {
		case <-u.wait:
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, h.cfg.WriteTimeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return h.end(c, "error")
			}
		case <-ctx.Done():
			return h.end(c, "client")
		case <-h.ctx.Done():
			return h.end(c, "shutdown")
		}
	}
}

// write writes one frame within WriteTimeout, or closes the socket and says why.
func (h *Hub) write(ctx context.Context, c *websocket.Conn, b []byte) string {
	wctx, cancel := context.WithTimeout(ctx, h.cfg.WriteTimeout)
	defer cancel()
	err := c.Write(wctx, websocket.MessageText, b)
	switch {
	case err == nil:
		return ""
	case errors.Is(wctx.Err(), context.DeadlineExceeded):
		// The write's own deadline passed (a viewer leaving would have
		// cancelled it first). The library drops the connection then; the
		// close code reaches a viewer only if anything still does.
		c.Close(CloseSlow, "too slow: reconnect with sinceSeq")
		return "slow"
	case ctx.Err() != nil:
		return h.end(c, "client")
	default:
		c.CloseNow()
		return "error"
	}
}

// end ends a socket whose context ended: with "going away" if the hub is
// closing, else the peer is gone already.
func (h *Hub) end(c *websocket.Conn, why string) string {
	if h.ctx.Err() != nil {
		c.Close(websocket.StatusGoingAway, "server shutting down")
		return "shutdown"
	}
	c.CloseNow()
	return why
}
