package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"
)

// liveConfig is the flags of live.
type liveConfig struct {
	common
	authFlags
	sockets int
	shows   int
	changes int
	perUser int
	pace    time.Duration
}

func parseLive(args []string, getenv func(string) string, stderr io.Writer) (liveConfig, error) {
	var cfg liveConfig
	fs := newFlagSet("live", "Opens -sockets live seat-map sockets spread over -shows shows, then makes -changes\n"+
		"seat changes through the API, one every -pace, and measures each event's delay from its\n"+
		"commit to each socket, the time to the last socket, and seatd's memory per socket.", stderr)
	cfg.common.register(fs)
	cfg.authFlags.register(fs, getenv)
	fs.IntVar(&cfg.sockets, "sockets", 1000, "sockets to open")
	fs.IntVar(&cfg.shows, "shows", 1, "shows to spread the sockets over")
	fs.IntVar(&cfg.changes, "changes", 50, "seat changes to make (holds of one free seat each)")
	fs.IntVar(&cfg.perUser, "changes-per-user", 5,
		"changes each of the driver's users makes, in turn: each holds that many seats at most, within seatd's\n"+
			"SEATD_MAX_HELD_PER_USER and SEATD_RATE_USER burst (10 each by default)")
	fs.DurationVar(&cfg.pace, "pace", 20*time.Millisecond, "time between changes")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.sockets < 1 || cfg.shows < 1 || cfg.changes < 1 || cfg.perUser < 1:
		return cfg, fmt.Errorf("live: -sockets, -shows, -changes and -changes-per-user must be at least 1")
	case cfg.pace < 0:
		return cfg, fmt.Errorf("live: -pace must not be negative")
	}
	return cfg, cfg.check("live")
}

// liveResult is what a live run measured.
type liveResult struct {
	Target  string `json:"target"` // seatd, or the bare hub of calibrate
	Sockets int    `json:"sockets"`
	Shows   int    `json:"shows"`
	Changes int    `json:"changes"`
	// DelayMs is each event's delay from its commit to its arrival, over
	// every socket; LastSocketMs, per event, the delay to the last socket.
	DelayMs      latencyMs `json:"delayMs"`
	LastSocketMs latencyMs `json:"lastSocketMs"`
	// Missed counts events a socket skipped or got twice; Lagging the sockets
	// that had not seen every event 10 s after the last change.
	Missed  int `json:"missed"`
	Lagging int `json:"lagging"`
	// ConnectSeconds is the time to open every socket and read its snapshot.
	ConnectSeconds float64 `json:"connectSeconds"`
	// BytesPerSocket is the growth of the server's resident memory per socket.
	BytesPerSocket float64 `json:"bytesPerSocket"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"firstError,omitempty"`
	OK             bool    `json:"ok"`
}

func (r liveResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "live (%s): %d sockets on %d shows, %d changes, sockets opened in %.1fs, %.0f bytes of server memory per socket\n",
		r.Target, r.Sockets, r.Shows, r.Changes, r.ConnectSeconds, r.BytesPerSocket)
	fmt.Fprintf(w, "  commit to socket:      p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", r.DelayMs.P50, r.DelayMs.P99, r.DelayMs.Max)
	fmt.Fprintf(w, "  commit to last socket: p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", r.LastSocketMs.P50, r.LastSocketMs.P99, r.LastSocketMs.Max)
	fmt.Fprintf(w, "  missed %d, lagging %d, errors %d\n", r.Missed, r.Lagging, r.Errors)
}

// liveTarget is what a live run watches and changes: seatd, or a bare hub.
type liveTarget interface {
	name() string
	// shows returns n shows with at least changes free seats between them.
	shows(ctx context.Context, n, changes int) ([]liveShow, error)
	socketURL(showID string) string
	// change changes one seat of a show.
	change(ctx context.Context, showID, seatID string) error
	// rss returns the server's resident memory.
	rss(ctx context.Context) (int64, error)
}

type liveShow struct {
	id    string
	seats []string // free seats to change
}

func runLive(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseLive(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := ensureConns(cfg.sockets + 16); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	cl := newClient(cfg.url, 16)
	defer cl.close()
	// The changes are made by several users in turn, not one: one user's 50
	// holds, 50 a second, would pass both seatd's cap on the seats a user may
	// hold and its rate limit per user.
	drivers, err := cl.login(ctx, cfg.secret, userNames("live", newRunID(), (cfg.changes+cfg.perUser-1)/cfg.perUser))
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	res := measureLive(ctx, &seatdTarget{cl: cl, drivers: drivers}, cfg.sockets, cfg.shows, cfg.changes, cfg.pace)
	if cfg.json {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else {
		res.writeText(stdout)
	}
	if !res.OK {
		return fmt.Errorf("live: %d missed, %d lagging, %d errors (%s)", res.Missed, res.Lagging, res.Errors, res.FirstError)
	}
	return nil
}

// viewer is one socket's reader. It only receives while the run goes on,
// noting when each frame came, and decodes the frames later (apply): on a
// machine whose cores seatd shares, decoding as they come would delay the
// other sockets' reads, and the buyers', by the load generator's own work.
type viewer struct {
	show    string
	conn    *websocket.Conn
	seq     atomic.Int64 // the last seq applied
	mu      sync.Mutex
	pending []arrival         // frames received, not yet applied
	status  map[string]string // seat → status, as the socket has it
	missed  int
}

// arrival is a frame received, and when.
type arrival struct {
	at   time.Time
	data []byte
}

// liveFrame is a frame as a viewer reads it.
type liveFrame struct {
	Type   string `json:"type"`
	Seq    int64  `json:"seq"`
	Seats  []seat `json:"seats"`
	Events []struct {
		Seq    int64     `json:"seq"`
		SeatID string    `json:"seatId"`
		Status string    `json:"status"`
		At     time.Time `json:"at"`
	} `json:"events"`
}

// delays collects, per event seq of a show, the arrival delays.
type delays struct {
	mu  sync.Mutex
	all map[string]map[int64][]time.Duration
}

func (d *delays) add(show string, seq int64, delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.all[show] == nil {
		d.all[show] = map[int64][]time.Duration{}
	}
	d.all[show][seq] = append(d.all[show][seq], delay)
}

// openViewers opens n sockets spread over shows, dialling a few at a time (a
// listen backlog is finite), and waits for each one's snapshot.
func openViewers(ctx context.Context, t liveTarget, shows []liveShow, n int, d *delays) ([]*viewer, error) {
	viewers := make([]*viewer, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i := range n {
		g.Go(func() error {
			show := shows[i%len(shows)].id
			c, _, err := websocket.Dial(gctx, t.socketURL(show), &websocket.DialOptions{HTTPClient: http.DefaultClient})
			if err != nil {
				return fmt.Errorf("open socket %d: %w", i, err)
			}
			c.SetReadLimit(64 << 20)
			v := &viewer{show: show, conn: c, status: map[string]string{}}
			if err := v.read(gctx); err != nil { // the snapshot
				return fmt.Errorf("socket %d: %w", i, err)
			}
			if err := v.apply(d); err != nil {
				return fmt.Errorf("socket %d: %w", i, err)
			}
			viewers[i] = v
			return nil
		})
	}
	err := g.Wait()
	return viewers, err
}

// read receives one frame, to apply later.
func (v *viewer) read(ctx context.Context) error {
	_, b, err := v.conn.Read(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	v.mu.Lock()
	v.pending = append(v.pending, arrival{now, b})
	v.mu.Unlock()
	return nil
}

// apply decodes the frames received so far into the viewer's seats, and
// into d (if not nil) their events' delays.
func (v *viewer) apply(d *delays) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.pending) > 0 {
		a := v.pending[0]
		v.pending = v.pending[1:]
		var f liveFrame
		if err := json.Unmarshal(a.data, &f); err != nil {
			return fmt.Errorf("frame %.80s: %w", a.data, err)
		}
		switch f.Type {
		case "snapshot":
			for _, s := range f.Seats {
				v.status[s.ID] = s.Status
			}
			v.seq.Store(f.Seq)
		case "events":
			for _, e := range f.Events {
				if e.Seq != v.seq.Load()+1 {
					v.missed++
				}
				v.status[e.SeatID] = e.Status
				v.seq.Store(e.Seq)
				if d != nil {
					d.add(v.show, e.Seq, a.at.Sub(e.At))
				}
			}
		}
	}
	return nil
}

// measureLive opens the sockets, makes the changes and measures.
func measureLive(ctx context.Context, t liveTarget, sockets, nShows, changes int, pace time.Duration) liveResult {
	res := liveResult{Target: t.name(), Sockets: sockets, Shows: nShows, Changes: changes}
	fail := func(err error) liveResult {
		res.Errors++
		res.FirstError = err.Error()
		return res
	}
	shows, err := t.shows(ctx, nShows, changes)
	if err != nil {
		return fail(err)
	}
	before, err := t.rss(ctx)
	if err != nil {
		return fail(err)
	}
	d := &delays{all: map[string]map[int64][]time.Duration{}}
	start := time.Now()
	viewers, err := openViewers(ctx, t, shows, sockets, d)
	defer func() {
		for _, v := range viewers {
			if v != nil {
				v.conn.CloseNow()
			}
		}
	}()
	if err != nil {
		return fail(err)
	}
	res.ConnectSeconds = time.Since(start).Seconds()
	time.Sleep(time.Second) // let the server's memory settle
	after, err := t.rss(ctx)
	if err != nil {
		return fail(err)
	}
	res.BytesPerSocket = float64(after-before) / float64(sockets)

	rctx, stop := context.WithCancel(ctx)
	var readers sync.WaitGroup
	var readErrs atomic.Int64
	for _, v := range viewers {
		readers.Go(func() {
			for rctx.Err() == nil {
				if err := v.read(rctx); err != nil {
					if rctx.Err() == nil {
						readErrs.Add(1)
					}
					return
				}
			}
		})
	}
	want := map[string]int64{} // show → the seq its viewers must reach
	for _, v := range viewers {
		want[v.show] = v.seq.Load()
	}
	for i := range changes {
		s := shows[i%len(shows)]
		seatID := s.seats[i/len(shows)]
		if err := t.change(ctx, s.id, seatID); err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
		} else {
			want[s.id]++
		}
		time.Sleep(pace)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lagging := 0
		for _, v := range viewers {
			if err := v.apply(d); err != nil {
				readErrs.Add(1)
			}
			if v.seq.Load() < want[v.show] {
				lagging++
			}
		}
		res.Lagging = lagging
		if lagging == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	readers.Wait()
	for _, v := range viewers {
		if err := v.apply(d); err != nil {
			readErrs.Add(1)
		}
	}
	res.Errors += int(readErrs.Load())
	var all, last []time.Duration
	d.mu.Lock()
	for _, bySeq := range d.all {
		for _, ds := range bySeq {
			all = append(all, ds...)
			worst := ds[0]
			for _, x := range ds {
				worst = max(worst, x)
			}
			last = append(last, worst)
		}
	}
	d.mu.Unlock()
	for _, v := range viewers {
		res.Missed += v.missed
	}
	res.DelayMs, res.LastSocketMs = latencies(all), latencies(last)
	res.OK = res.Missed == 0 && res.Lagging == 0 && res.Errors == 0
	return res
}

// seatdTarget is a live run against seatd. Its drivers make the changes, in
// turn; a target that only opens sockets needs none.
type seatdTarget struct {
	cl      *client
	drivers []*user
	changes int // made so far, which says whose turn it is
}

func (*seatdTarget) name() string { return "seatd" }

func (t *seatdTarget) socketURL(showID string) string {
	return "ws" + strings.TrimPrefix(t.cl.base, "http") + "/api/seats/" + showID + "/live"
}

func (t *seatdTarget) shows(ctx context.Context, n, changes int) ([]liveShow, error) {
	all, err := t.cl.shows(ctx)
	if err != nil {
		return nil, err
	}
	per := (changes + n - 1) / n
	var out []liveShow
	for _, sh := range all {
		if len(out) == n {
			break
		}
		m, err := t.cl.seatMap(ctx, sh.ID)
		if err != nil {
			return nil, err
		}
		ls := liveShow{id: sh.ID}
		for _, s := range m.Seats {
			if s.Status == statusAvailable && len(ls.seats) < per {
				ls.seats = append(ls.seats, s.ID)
			}
		}
		if len(ls.seats) == per {
			out = append(out, ls)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("live: found %d shows with %d free seats, want %d", len(out), per, n)
	}
	return out, nil
}

// change holds the seat as the driver whose turn it is. measureLive makes the
// changes one after the other, so the turn needs no lock.
func (t *seatdTarget) change(ctx context.Context, showID, seatID string) error {
	u := t.drivers[t.changes%len(t.drivers)]
	t.changes++
	a := t.cl.post(ctx, &recorder{}, routeHold, pathHold, u, holdBody{SeatIDs: []string{seatID}, UserID: u.id}, nil)
	if !a.ok() {
		return fmt.Errorf("hold %s as %s: %s", seatID, u.name, a)
	}
	return nil
}

var rssRE = regexp.MustCompile(`(?m)^process_resident_memory_bytes (\S+)$`)

func (t *seatdTarget) rss(ctx context.Context) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", t.cl.base+"/metrics", nil)
	resp, err := t.cl.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := rssRE.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("seatd's /metrics has no process_resident_memory_bytes")
	}
	f, err := strconv.ParseFloat(string(m[1]), 64)
	return int64(f), err
}

// rssOf returns a local process's resident memory.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	kb, err := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10, err
}
