package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"seatmanager/booking"
)

// liveHubCommand is the hidden subcommand calibrate starts this binary with:
// a bare coder/websocket broadcast hub, the limit a live seat map is read
// against. It does what seatd's live sockets do at the least: a snapshot of a
// show's seats to each new socket, then each change, encoded once, to every
// socket; no database, no log.
const liveHubCommand = "live-hub-server"

// hubSeats is how many seats the bare hub's show has, as a demo show.
const hubSeats = 120

type bareHub struct {
	mu    sync.Mutex
	seq   int64
	seats []seat
	conns map[chan []byte]bool
}

func runLiveHubServer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet(liveHubCommand, "A bare WebSocket broadcast hub for calibrate.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h := &bareHub{conns: map[chan []byte]bool{}}
	for i := range hubSeats {
		row := string(rune('A' + i/12))
		h.seats = append(h.seats, seat{ID: booking.NameID(booking.NameID(hubShowNS, "hub"), fmt.Sprint(i)), Label: booking.SeatLabel(row, i%12+1), Status: statusAvailable})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live", h.serveSocket)
	mux.HandleFunc("POST /change", h.change)
	return serveChild(ctx, mux, stdin, stdout)
}

const hubShowNS = "3f2b8c1e-6d4a-4b7e-9c2d-1a5e8f0b7c3d"

// hubSeat is a seat as seatd's snapshot writes it.
type hubSeat struct {
	ID       string `json:"id"`
	Row      string `json:"row"`
	Number   int    `json:"number"`
	Label    string `json:"label"`
	Category string `json:"category"`
	Status   string `json:"status"`
}

func (h *bareHub) serveSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(context.Background())
	out := make(chan []byte, 64)
	h.mu.Lock()
	seats := make([]hubSeat, len(h.seats))
	for i, s := range h.seats {
		seats[i] = hubSeat{ID: s.ID, Row: s.Label[:1], Number: i%12 + 1, Label: s.Label, Category: "standard", Status: s.Status}
	}
	snap, _ := json.Marshal(map[string]any{"type": "snapshot", "showId": "hub", "seq": h.seq, "seats": seats})
	h.conns[out] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, out)
		h.mu.Unlock()
	}()
	if c.Write(ctx, websocket.MessageText, snap) != nil {
		return
	}
	for {
		select {
		case b := <-out:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (h *bareHub) change(w http.ResponseWriter, r *http.Request) {
	seatID := r.URL.Query().Get("seat")
	h.mu.Lock()
	h.seq++
	for i := range h.seats {
		if h.seats[i].ID == seatID {
			h.seats[i].Status = statusHeld
		}
	}
	frame, _ := json.Marshal(map[string]any{"type": "events", "showId": "hub", "events": []map[string]any{
		{"seq": h.seq, "seatId": seatID, "status": statusHeld, "at": time.Now().UTC()},
	}})
	for out := range h.conns {
		select {
		case out <- frame:
		default: // a socket that far behind would be closed; calibrate's readers keep up
		}
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// hubTarget is a live run against the bare hub.
type hubTarget struct {
	p    *child
	http *http.Client
}

func (hubTarget) name() string { return "bare hub" }

func (t hubTarget) socketURL(string) string {
	return "ws://" + t.p.addr + "/live"
}

func (t hubTarget) shows(_ context.Context, n, changes int) ([]liveShow, error) {
	if n != 1 || changes > hubSeats {
		return nil, fmt.Errorf("the bare hub has one show of %d seats", hubSeats)
	}
	s := liveShow{id: "hub"}
	for i := range changes {
		s.seats = append(s.seats, booking.NameID(booking.NameID(hubShowNS, "hub"), fmt.Sprint(i)))
	}
	return []liveShow{s}, nil
}

func (t hubTarget) change(ctx context.Context, _, seatID string) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+t.p.addr+"/change?seat="+seatID, nil)
	resp, err := t.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (t hubTarget) rss(context.Context) (int64, error) { return rssOf(t.p.cmd.Process.Pid) }
