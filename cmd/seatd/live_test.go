package main

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// watch opens a live socket on a show of the seatd at base.
func watch(t *testing.T, base, showID string) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/api/seats/" + showID + "/live"
	c, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

type liveFrame struct {
	Type   string
	Seq    int64
	Events []struct {
		Seq    int64
		SeatID string
		Status string
	}
}

func nextFrame(t *testing.T, c *websocket.Conn, within time.Duration) liveFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("no frame within %v: %v", within, err)
	}
	var f liveFrame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLiveAcrossInstances: a change committed through one seatd reaches the
// sockets of another within moments, woken by Redis pub/sub, or by
// PostgreSQL LISTEN/NOTIFY without Redis; the instances' poll is set to a
// minute, so only the notices can do it. A hold's expiry, released by the
// instance that made it, reaches them too.
func TestLiveAcrossInstances(t *testing.T) {
	for _, backend := range []string{"postgres+redis", "postgres+memory"} {
		t.Run(backend, func(t *testing.T) {
			env := backendEnv(t, backend)
			env["SEATD_LIVE_POLL_INTERVAL"] = "1m"
			env["SEATD_HOLD_TTL"] = "1s"
			a := startSeatd(t, env)
			b := startSeatd(t, maps.Clone(env))
			ca := newClient(t, a.url)
			_, m := ca.firstShow(t)
			if backend == "postgres+memory" {
				awaitListeners(t, env["SEATD_DATABASE_URL"], 2)
			}
			sock := watch(t, b.url, m.ShowID)
			snap := nextFrame(t, sock, 5*time.Second)
			if snap.Type != "snapshot" {
				t.Fatalf("got a %s frame first, want the snapshot", snap.Type)
			}
			start := time.Now()
			ca.hold(t, "alice", m.Seats[0].ID)
			f := nextFrame(t, sock, time.Second)
			if f.Type != "events" || f.Events[0].Seq != snap.Seq+1 || f.Events[0].Status != "held" {
				t.Fatalf("got %+v, want seat held at seq %d", f, snap.Seq+1)
			}
			t.Logf("hold on one instance seen on the other's socket after %v", time.Since(start))
			// The hold lapses (1s) and instance a releases it.
			f = nextFrame(t, sock, 5*time.Second)
			if f.Events[0].Seq != snap.Seq+2 || f.Events[0].Status != "available" {
				t.Errorf("got %+v, want the lapsed seat available at seq %d", f, snap.Seq+2)
			}
		})
	}
}

// awaitListeners waits until n connections to the database listen for seat
// changes: an instance starts listening once it serves, and a change
// committed before would reach its sockets only by their poll.
func awaitListeners(t *testing.T, databaseURL string, n int) {
	t.Helper()
	db := openDB(t, databaseURL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&got)
		switch {
		case err != nil:
			t.Fatal(err)
		case got >= n:
			return
		case time.Now().After(deadline):
			t.Fatalf("%d connections listen for seat changes after 10s, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// TestLiveShutdown: seatd stopping closes its sockets with "going away".
func TestLiveShutdown(t *testing.T) {
	s := startSeatd(t, backendEnv(t, "sqlite+memory"))
	_, m := newClient(t, s.url).firstShow(t)
	sock := watch(t, s.url, m.ShowID)
	nextFrame(t, sock, 5*time.Second)
	go s.stop()
	_, _, err := sock.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Errorf("got %v (status %d), want going away", err, got)
	}
}
