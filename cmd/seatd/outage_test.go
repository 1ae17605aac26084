package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/testenv"
)

// TestPostgresOutage: PostgreSQL is restarted, killed and restarted, and
// frozen (SIGSTOP) under steady keyed load. Throughout, seatd answers 503
// problems with Retry-After (never a 500, never later than its request
// timeout allows), /readyz says so, seatd recovers without a restart, and
// every booking a client was told of is in the database afterwards.
func TestPostgresOutage(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dbURL := pg.URL(t)
	const timeout = time.Second
	s := startSeatd(t, map[string]string{
		"SEATD_DATABASE_URL": dbURL, "SEATD_DEMO": "true", "SEATD_DEMO_SHOWS": "8",
		"SEATD_REQUEST_TIMEOUT": timeout.String(),
	})
	c := newClient(t, s.url)
	var shows []showJSON
	c.mustCall(t, "GET", "/api/seats/shows", nil, 200, &shows)
	seats := make(chan string, len(shows)*120)
	for _, sh := range shows {
		var m seatMapJSON
		c.mustCall(t, "GET", "/api/seats/"+sh.ID, nil, 200, &m)
		for _, seat := range m.Seats {
			seats <- seat.ID
		}
	}
	close(seats)

	load := &outageLoad{url: s.url, http: &http.Client{Timeout: 30 * time.Second}, byPhase: map[string]map[int]int{}}
	load.setPhase("before")
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { load.buyer(ctx, fmt.Sprint("buyer-", i), seats) })
	}
	wg.Go(func() { load.reader(ctx, shows[0].ID) })

	phase := func(name string, outage func()) {
		load.setPhase(name)
		start := time.Now()
		outage()
		t.Logf("%s: %v", name, time.Since(start).Round(time.Millisecond))
		load.setPhase(name + ", after")
		load.awaitSuccess(t, 20*time.Second)
	}
	time.Sleep(time.Second) // steady load before the first outage
	phase("restart", func() { pg.Restart(t) })
	phase("kill", func() {
		pg.Kill(t)
		time.Sleep(time.Second) // an outage of a second
		pg.Start(t)
	})
	phase("freeze", func() {
		pg.Freeze(t)
		time.Sleep(3 * time.Second)
		pg.Thaw(t)
	})
	stop()
	wg.Wait()

	load.report(t)
	for _, p := range load.problems {
		t.Error(p)
	}
	if load.slowest > timeout+1500*time.Millisecond {
		t.Errorf("slowest answer took %v, want at most the request timeout (%v) and a margin", load.slowest, timeout)
	}
	if !load.readyWent[http.StatusServiceUnavailable] || !load.readyWent[http.StatusOK] {
		t.Errorf("/readyz answered %v during the outages, want 503 while the database was away and 200 otherwise", load.readyWent)
	}
	if len(load.booked) == 0 {
		t.Fatal("nobody was told of a booking; the test proved nothing")
	}
	var served503 int
	for phase, by := range load.byPhase {
		if !strings.HasSuffix(phase, "after") && phase != "before" {
			served503 += by[http.StatusServiceUnavailable]
		}
	}
	if served503 == 0 {
		t.Error("no request was answered 503 during the outages; the test proved nothing")
	}
	// Nothing a client was told of is lost.
	db := openDB(t, dbURL)
	for id, want := range load.booked {
		rows, err := db.QueryContext(t.Context(), "SELECT seat_id FROM bookings WHERE booking_id = $1", id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var seat string
			rows.Scan(&seat)
			got = append(got, seat)
		}
		rows.Close()
		if len(got) != len(want) {
			t.Errorf("booking %s, told to its client for seats %v: the database has seats %v", id, want, got)
		}
	}
}

// outageLoad is keyed steady load that retries 503s with the same key, as a
// client should, and checks every answer's shape.
type outageLoad struct {
	url  string
	http *http.Client

	mu        sync.Mutex
	phase     string
	byPhase   map[string]map[int]int // phase → status → answers
	problems  []string
	slowest   time.Duration
	booked    map[string][]string // booking id → its seats, as told
	readyWent map[int]bool
	lastOK    time.Time
}

func (l *outageLoad) setPhase(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = p
}

// awaitSuccess waits until a request has succeeded after now.
func (l *outageLoad) awaitSuccess(t *testing.T, within time.Duration) {
	t.Helper()
	since := time.Now()
	for {
		l.mu.Lock()
		ok := l.lastOK.After(since)
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Since(since) > within {
			t.Fatalf("no request succeeded within %v of the database's return: seatd did not recover", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// send sends one request and checks the answer's shape; it returns the
// status and body, or 0 on a transport error.
func (l *outageLoad) send(ctx context.Context, method, path, key string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, l.url+path, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if key != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
	}
	authorize(req, body)
	start := time.Now()
	resp, err := l.http.Do(req)
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			l.problems = append(l.problems, fmt.Sprintf("%s %s: %v", method, path, err))
		}
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	l.slowest = max(l.slowest, took)
	by := l.byPhase[l.phase]
	if by == nil {
		by = map[int]int{}
		l.byPhase[l.phase] = by
	}
	by[resp.StatusCode]++
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		var p struct{ Type string }
		if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Type == "" || resp.Header.Get("Retry-After") == "" {
			l.problems = append(l.problems, fmt.Sprintf("%s %s: a 503 without a problem body and Retry-After: %v %s", method, path, resp.Header, b))
		}
	case resp.StatusCode >= 500:
		l.problems = append(l.problems, fmt.Sprintf("%s %s (%s): got %d %s", method, path, l.phase, resp.StatusCode, b))
	case resp.StatusCode == http.StatusOK:
		l.lastOK = time.Now()
	}
	return resp.StatusCode, b
}

// post sends a keyed POST until it gets an answer that is not 503 (or "key
// in use"), retrying with the same key; 0 if ctx ended first.
func (l *outageLoad) post(ctx context.Context, path string, body any) (int, []byte) {
	b, _ := json.Marshal(body)
	key := booking.NewID()
	for ctx.Err() == nil {
		status, resp := l.send(ctx, "POST", path, key, b)
		inUse := status == http.StatusConflict && bytes.Contains(resp, []byte("idempotency-key-in-use"))
		if status != 0 && status != http.StatusServiceUnavailable && !inUse {
			return status, resp
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, nil
}

// buyer holds and books seats, one at a time, until ctx ends or seats run out.
func (l *outageLoad) buyer(ctx context.Context, user string, seats <-chan string) {
	for seat := range seats {
		status, body := l.post(ctx, "/api/seats/hold-bulk", map[string]any{"seatIds": []string{seat}, "userId": user})
		if status != http.StatusOK {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		var h struct{ HoldToken string }
		json.Unmarshal(body, &h)
		status, body = l.post(ctx, "/api/seats/book-bulk", map[string]any{"seatIds": []string{seat}, "userId": user, "holdToken": h.HoldToken})
		if status == http.StatusOK {
			var bk struct{ BookingID string }
			json.Unmarshal(body, &bk)
			l.mu.Lock()
			if l.booked == nil {
				l.booked = map[string][]string{}
			}
			l.booked[bk.BookingID] = []string{seat}
			l.mu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// reader reads a seat map and /readyz over and over.
func (l *outageLoad) reader(ctx context.Context, showID string) {
	for ctx.Err() == nil {
		l.send(ctx, "GET", "/api/seats/"+showID, "", nil)
		status, _ := l.send(ctx, "GET", "/readyz", "", nil)
		l.mu.Lock()
		if l.readyWent == nil {
			l.readyWent = map[int]bool{}
		}
		if status != 0 {
			l.readyWent[status] = true
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// report logs the answers by phase and status, and the slowest.
func (l *outageLoad) report(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	phases := make([]string, 0, len(l.byPhase))
	for p := range l.byPhase {
		phases = append(phases, p)
	}
	sort.Strings(phases)
	for _, p := range phases {
		t.Logf("%-16s answers by status: %v", p, l.byPhase[p])
	}
	t.Logf("slowest answer %v; %d bookings told; /readyz answered %v", l.slowest.Round(time.Millisecond), len(l.booked), l.readyWent)
}
