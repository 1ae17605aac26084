package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"seatmanager/booking"
	"seatmanager/internal/inflight"
	"seatmanager/live"
	"seatmanager/memory"
	"seatmanager/sqlite"
	"seatmanager/storetest"
)

// world is a hub over a real SQLite store, a service that wakes it, and an
// HTTP server that serves its sockets.
type world struct {
	store *sqlite.Store
	svc   *booking.Service
	hub   *live.Hub
	srv   *httptest.Server
	show  booking.NewShow
	seats []string
}

func newWorld(t *testing.T, cfg live.Config, rows, perRow int) *world {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := &world{store: store, show: storetest.NewShowSpec(rows, perRow)}
	if _, err := store.CreateShow(t.Context(), w.show); err != nil {
		t.Fatal(err)
	}
	for _, s := range w.show.Seats {
		w.seats = append(w.seats, s.ID)
	}
	cfg.Log = store
	w.hub = live.New(cfg)
	t.Cleanup(w.hub.Close)
	w.svc = booking.NewService(store, memory.NewGate(), nil, booking.Config{OnChange: w.hub.Wake})
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var since *int64
		if v := r.URL.Query().Get("sinceSeq"); v != "" {
			n, _ := strconv.ParseInt(v, 10, 64)
			since = &n
		}
		if err := w.hub.Serve(rw, r, r.URL.Query().Get("show"), since); err != nil {
			status := http.StatusInternalServerError
			switch {
			case errors.Is(err, booking.ErrNotFound):
				status = http.StatusNotFound
			case errors.Is(err, booking.ErrInvalid):
				status = http.StatusBadRequest
			}
			http.Error(rw, err.Error(), status)
		}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// frame is any frame, as a viewer decodes it.
type frame struct {
	Type   string
	ShowID string
	Seq    int64
	Seats  []live.Seat
	Events []live.Event
	raw    string
}

type viewer struct {
	t *testing.T
	c *websocket.Conn
}

func (w *world) watch(t *testing.T, query string) *viewer {
	t.Helper()
	url := "ws" + strings.TrimPrefix(w.srv.URL, "http") + "/?show=" + w.show.ID + query
	c, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(16 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &viewer{t: t, c: c}
}

func (v *viewer) next() frame {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(v.t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := v.c.Read(ctx)
	if err != nil {
		v.t.Fatalf("read a frame: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		v.t.Fatalf("frame %s: %v", b, err)
	}
	f.raw = string(b)
	return f
}

// eventsUpTo reads events frames until seq, and fails unless they follow
// after contiguously.
func (v *viewer) eventsUpTo(after, seq int64) []live.Event {
	v.t.Helper()
	var got []live.Event
	for after < seq {
		f := v.next()
		if f.Type != "events" {
			v.t.Fatalf("got a %s frame, want events after %d", f.Type, after)
		}
		for _, e := range f.Events {
			if e.Seq != after+1 {
				v.t.Fatalf("got event %d after %d: skipped or repeated", e.Seq, after)
			}
			after = e.Seq
			got = append(got, e)
		}
	}
	return got
}

func (w *world) hold(t *testing.T, user string, seats ...string) booking.Hold {
	t.Helper()
	h, err := w.svc.Hold(t.Context(), booking.HoldRequest{UserID: user, SeatIDs: seats})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSnapshotThenEvents: a viewer gets the seat map, then every change in
// seq order, holds, books, releases, with no holder or token in any frame.
func TestSnapshotThenEvents(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour}, 2, 5)
	w.hold(t, "early", w.seats[0])
	v := w.watch(t, "")
	snap := v.next()
	if snap.Type != "snapshot" || snap.ShowID != w.show.ID || snap.Seq != 1 || len(snap.Seats) != 10 || snap.Seats[0].Status != booking.StatusHeld {
		t.Fatalf("got %s, want a snapshot at seq 1 of 10 seats, the first held", snap.raw)
	}
	h := w.hold(t, "alice", w.seats[1], w.seats[2])
	if _, err := w.svc.Book(t.Context(), booking.BookRequest{UserID: "alice", HoldToken: h.Token, SeatIDs: w.seats[1:2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Release(t.Context(), booking.ReleaseRequest{UserID: "alice", SeatIDs: w.seats[2:3]}); err != nil {
		t.Fatal(err)
	}
	events := v.eventsUpTo(1, 5)
	want := []booking.Status{booking.StatusHeld, booking.StatusHeld, booking.StatusBooked, booking.StatusAvailable}
	for i, e := range events {
		if e.Status != want[i] {
			t.Errorf("event %d: got %s, want %s", e.Seq, e.Status, want[i])
		}
	}
}

// TestNoHolderInFrames: frames say what happened to a seat, never who did it.
func TestNoHolderInFrames(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour}, 1, 3)
	v := w.watch(t, "")
	v.next()
	h := w.hold(t, "secret-user", w.seats[0])
	f := v.next()
	for _, leak := range []string{"secret-user", h.Token, "holdToken", "userId", "bookingId"} {
		if strings.Contains(f.raw, leak) {
			t.Errorf("frame %s contains %q", f.raw, leak)
		}
	}
}

// TestResumeSinceSeq: a viewer that comes back with sinceSeq gets exactly
// the events after it, no snapshot, also those older than the recent frames
// (from the log).
func TestResumeSinceSeq(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour, RingEvents: 2}, 2, 5)
	v := w.watch(t, "")
	v.next()
	w.hold(t, "a", w.seats[0])
	v.eventsUpTo(0, 1)
	v.c.Close(websocket.StatusNormalClosure, "")
	for i := 1; i < 7; i++ {
		w.hold(t, "b", w.seats[i])
	}
	v = w.watch(t, "&sinceSeq=1")
	v.eventsUpTo(1, 7)
	// And one that is current gets nothing until the next change.
	v = w.watch(t, "&sinceSeq=7")
	w.hold(t, "c", w.seats[9])
	if got := v.eventsUpTo(7, 8); got[0].SeatID != w.seats[9] {
		t.Errorf("got %+v, want seat 9 held", got)
	}
}

// TestMissedWakeUpFilledFromLog: changes nobody announced (a lost
// notification) reach the viewers with the next wake-up, or the next poll,
// all of them, in order.
func TestMissedWakeUpFilledFromLog(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour}, 1, 5)
	v := w.watch(t, "")
	v.next()
	// Straight to the store: nothing wakes the hub.
	for i := range 3 {
		if _, err := w.store.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: w.show.ID, UserID: "u", SeatIDs: w.seats[i : i+1], TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	w.hold(t, "woken", w.seats[3]) // this one wakes it
	v.eventsUpTo(0, 4)

	polled := newWorld(t, live.Config{PollInterval: 20 * time.Millisecond}, 1, 2)
	pv := polled.watch(t, "")
	pv.next()
	if _, err := polled.store.Hold(t.Context(), booking.HoldParams{Token: booking.NewID(), ShowID: polled.show.ID, UserID: "u", SeatIDs: polled.seats[:1], TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	pv.eventsUpTo(0, 1)
}

// TestPrunedSinceGetsSnapshot: a viewer resuming from a seq the log no
// longer has gets a snapshot.
func TestPrunedSinceGetsSnapshot(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour, RingEvents: 1}, 1, 4)
	for i := range 3 {
		w.hold(t, "u", w.seats[i])
	}
	if n, err := w.store.PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("PruneEvents: got (%d, %v), want 3", n, err)
	}
	w.hold(t, "u", w.seats[3])
	v := w.watch(t, "&sinceSeq=1")
	if f := v.next(); f.Type != "snapshot" || f.Seq != 4 {
		t.Errorf("got %s, want a snapshot at seq 4", f.raw)
	}
}

// TestBeforeUpgrade: an unknown show and a sinceSeq ahead of the show are
// answered before any upgrade.
func TestBeforeUpgrade(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour}, 1, 1)
	for query, want := range map[string]int{"?show=" + booking.NewID(): 404, "?show=" + w.show.ID + "&sinceSeq=5": 400} {
		resp, err := http.Get(w.srv.URL + "/" + query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: got %d, want %d", query, resp.StatusCode, want)
		}
	}
}

// TestSlowViewerClosed: a viewer that takes nothing is disconnected once a
// frame waits longer than WriteTimeout (told CloseSlow, if anything still
// reaches it), and the others go on unhindered.
func TestSlowViewerClosed(t *testing.T) {
	closes := make(chan string, 10)
	w := newWorld(t, live.Config{PollInterval: time.Hour, WriteTimeout: 200 * time.Millisecond,
		Observer: live.Observer{SocketClosed: func(why string) { closes <- why }}}, 20, 100)
	// The slow viewer reads nothing, and the buffers between it and the
	// server are small: the snapshot of 2000 seats cannot get through.
	small := func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		})
	}
	ln, err := (&net.ListenConfig{Control: small}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(w.srv.Config.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	slowClient := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Control: small}).DialContext}}
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?show=" + w.show.ID
	slow, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{HTTPClient: slowClient})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	select {
	case why := <-closes:
		if why != "slow" {
			t.Fatalf("the viewer that reads nothing was closed for %q, want slow", why)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the viewer that reads nothing was not closed within 20s")
	}
	fast := w.watch(t, "")
	if f := fast.next(); f.Type != "snapshot" {
		t.Fatalf("got %s frame, want the snapshot", f.Type)
	}
	w.hold(t, "u", w.seats[0])
	fast.eventsUpTo(0, 1)
}

// TestCloseSaysGoingAway: the hub's Close ends every socket with 1001.
func TestCloseSaysGoingAway(t *testing.T) {
	w := newWorld(t, live.Config{PollInterval: time.Hour}, 1, 1)
	v := w.watch(t, "")
	v.next()
	done := make(chan struct{})
	go func() { w.hub.Close(); close(done) }()
	_, _, err := v.c.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Errorf("got %v (status %d), want going away", err, got)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
}

// TestBusyDefersFrames: while the instance is busy answering seat changes,
// nothing is written; once it is quiet, everything since goes out in one
// frame. Busy for longer than Yield, the frame goes out anyway.
func TestBusyDefersFrames(t *testing.T) {
	changes := inflight.New(0, 0)
	const yield = 300 * time.Millisecond
	w := newWorld(t, live.Config{PollInterval: time.Hour, Busy: changes.Busy, Yield: yield}, 1, 5)
	v := w.watch(t, "")
	v.next()
	frames := make(chan frame, 8)
	go func() {
		for {
			_, b, err := v.c.Read(context.Background())
			if err != nil {
				close(frames)
				return
			}
			var f frame
			json.Unmarshal(b, &f)
			frames <- f
		}
	}()

	changes.Enter()
	start := time.Now()
	for i := range 3 {
		w.hold(t, "buyer", w.seats[i])
	}
	select {
	case f := <-frames:
		t.Fatalf("got a frame of %d events %v after the changes while busy; want none until quiet", len(f.Events), time.Since(start))
	case <-time.After(yield / 3):
	}
	changes.Leave()
	select {
	case f := <-frames:
		if len(f.Events) != 3 || f.Events[0].Seq != 1 || f.Events[2].Seq != 3 {
			t.Fatalf("got %d events %+v once quiet; want events 1–3 in one frame", len(f.Events), f.Events)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s of the instance becoming quiet")
	}

	changes.Enter() // busy for good: the change goes out after Yield
	defer changes.Leave()
	start = time.Now()
	w.hold(t, "buyer", w.seats[3])
	held := time.Now() // the hold's own time (a commit on a loaded disk) is not the feed's
	select {
	case f := <-frames:
		// From before the hold at least half a Yield; from its commit no more
		// than one Yield and a margin, not two (the reader's and the socket's).
		if d, sinceHeld := time.Since(start), time.Since(held); len(f.Events) != 1 || f.Events[0].Seq != 4 || d < yield/2 || sinceHeld > yield*5/3 {
			t.Fatalf("got events %+v after %v while busy (%v after the hold returned); want event 4 after about %v (the reader's wait and the socket's are one)", f.Events, d, sinceHeld, yield)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no frame within 5s while busy; want one after Yield (%v)", yield)
	}
}
