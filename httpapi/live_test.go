package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/live"
	"seatmanager/memory"
	"seatmanager/sqlite"
	"seatmanager/storetest"
)

// liveEnv is the API with live seat maps, served over a real listener (a
// WebSocket needs a connection to take over).
type liveEnv struct {
	*env
	srv *httptest.Server
}

func newLiveEnv(t *testing.T, timeout time.Duration) *liveEnv {
	return newLiveEnvBounded(t, timeout, 0)
}

// newLiveEnvBounded is newLiveEnv whose server bounds each connection's
// reads and writes by serverTimeout, as seatd's does (0: no bound).
func newLiveEnvBounded(t *testing.T, timeout, serverTimeout time.Duration) *liveEnv {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, show: storetest.NewShowSpec(2, 6)}
	if _, err := store.CreateShow(t.Context(), e.show); err != nil {
		t.Fatal(err)
	}
	for _, s := range e.show.Seats {
		e.seats = append(e.seats, s.ID)
	}
	hub := live.New(live.Config{Log: store, PollInterval: time.Hour, OriginPatterns: []string{"tickets.example"}})
	t.Cleanup(hub.Close)
	svc := booking.NewService(store, memory.NewGate(), nil, booking.Config{OnChange: hub.Wake})
	e.handler = runServer(t, httpapi.NewServer(svc, httpapi.Config{
		Ready: store.Ping, Receipts: store, Markers: memory.NewMarkers(0), Live: hub, RequestTimeout: timeout, Auth: testVerifier,
	}))
	srv := httptest.NewUnstartedServer(e.handler)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = serverTimeout, serverTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return &liveEnv{env: e, srv: srv}
}

func (e *liveEnv) dial(t *testing.T, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/seats/" + e.show.ID + "/live" + query
	c, resp, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{HTTPHeader: header})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func readFrame(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read a frame: %v", err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLiveSocket: the socket gives the snapshot, then the changes, for longer
// than the request timeout and the server's read and write timeouts; the
// seat objects are the seat map's.
func TestLiveSocket(t *testing.T) {
	e := newLiveEnvBounded(t, 200*time.Millisecond, 250*time.Millisecond)
	c, _, err := e.dial(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := readFrame(t, c)
	m := e.do(t, http.MethodGet, "/api/seats/"+e.show.ID, nil).json(t)
	if snap["type"] != "snapshot" || snap["seq"] != m["seq"] {
		t.Fatalf("got %v, want a snapshot at the seat map's seq", snap)
	}
	mapSeat, _ := json.Marshal(m["seats"].([]any)[0])
	snapSeat, _ := json.Marshal(snap["seats"].([]any)[0])
	if string(mapSeat) != string(snapSeat) {
		t.Errorf("snapshot seat %s, seat map seat %s: want the same object", snapSeat, mapSeat)
	}
	time.Sleep(400 * time.Millisecond) // past the request timeout, and the server's (250 ms)
	wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:2], "userId": "alice"}), http.StatusOK)
	f := readFrame(t, c)
	events := f["events"].([]any)
	if f["type"] != "events" || len(events) != 2 || events[0].(map[string]any)["seq"] != float64(1) {
		t.Errorf("got %v, want the two seats' events after the timeout", f)
	}
}

// TestLiveRefusals: a bad show id or sinceSeq, an unknown show, a foreign
// origin and a handshake that is no WebSocket's are answered before any
// upgrade, each with its problem.
func TestLiveRefusals(t *testing.T) {
	e := newLiveEnv(t, time.Second)
	handshake := http.Header{}
	handshake.Set("Connection", "Upgrade")
	handshake.Set("Upgrade", "websocket")
	handshake.Set("Sec-WebSocket-Version", "13")
	handshake.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	without := func(name string) http.Header {
		h := handshake.Clone()
		h.Del(name)
		return h
	}
	for name, tc := range map[string]struct {
		path    string
		headers http.Header
		status  int
		problem string
	}{
		"bad show id":      {"/api/seats/nope/live", handshake, 400, "invalid-request"},
		"unknown show":     {"/api/seats/" + booking.NewID() + "/live", handshake, 404, "not-found"},
		"bad sinceSeq":     {"/api/seats/" + e.show.ID + "/live?sinceSeq=-1", handshake, 400, "invalid-request"},
		"sinceSeq ahead":   {"/api/seats/" + e.show.ID + "/live?sinceSeq=99", handshake, 400, "invalid-request"},
		"foreign origin":   {"/api/seats/" + e.show.ID + "/live", func() http.Header { h := handshake.Clone(); h.Set("Origin", "https://evil.example"); return h }(), 403, "forbidden"},
		"no upgrade asked": {"/api/seats/" + e.show.ID + "/live", http.Header{}, 426, "upgrade-required"},
		"no key":           {"/api/seats/" + e.show.ID + "/live", without("Sec-WebSocket-Key"), 400, "invalid-request"},
		"another version":  {"/api/seats/" + e.show.ID + "/live", func() http.Header { h := handshake.Clone(); h.Set("Sec-WebSocket-Version", "8"); return h }(), 400, "invalid-request"},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+tc.path, nil)
			req.Header = tc.headers
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkOpenAPI(t, req, response{status: resp.StatusCode, header: resp.Header, body: body})
			var p struct{ Type, Detail string }
			ct := resp.Header.Get("Content-Type")
			if err := json.Unmarshal(body, &p); err != nil || ct != "application/problem+json" {
				t.Fatalf("got %d %s (%v), want a problem", resp.StatusCode, ct, err)
			}
			if resp.StatusCode != tc.status || p.Type != "/problems/"+tc.problem || p.Detail == "" {
				t.Errorf("got %d %+v, want %d with problem %s and a detail", resp.StatusCode, p, tc.status, tc.problem)
			}
			if tc.status == 426 && resp.Header.Get("Upgrade") != "websocket" {
				t.Errorf("426 without Upgrade: websocket: %v", resp.Header)
			}
		})
	}
	// An allowed origin gets its socket.
	if _, _, err := e.dial(t, "", http.Header{"Origin": {"https://tickets.example"}}); err != nil {
		t.Errorf("allowed origin: %v", err)
	}
}

// TestEventsRoute pages through the log, and answers what it cannot.
func TestEventsRoute(t *testing.T) {
	e := newLiveEnv(t, time.Second)
	for i := range 3 {
		wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[i : i+1], "userId": "u"}), http.StatusOK)
	}
	r := e.do(t, http.MethodGet, "/api/seats/"+e.show.ID+"/events?sinceSeq=1&limit=1", nil)
	wantStatus(t, r, http.StatusOK)
	p := r.json(t)
	events := p["events"].([]any)
	if p["showId"] != e.show.ID || p["seq"] != float64(3) || len(events) != 1 || events[0].(map[string]any)["seq"] != float64(2) {
		t.Errorf("got %v, want event 2 of a show at seq 3", p)
	}
	if strings.Contains(string(r.body), "holdToken") || strings.Contains(string(r.body), `"u"`) {
		t.Errorf("events name their holder: %s", r.body)
	}
	for path, want := range map[string]int{
		"/events?sinceSeq=x":     400,
		"/events?sinceSeq=-2":    400,
		"/events?limit=0":        400,
		"/events?limit=100000":   400,
		"/events?sinceSeq=9":     400,
		"/events?sinceSeq=0&x=1": 200,
	} {
		r := e.do(t, http.MethodGet, "/api/seats/"+e.show.ID+path, nil)
		if r.status != want {
			t.Errorf("%s: got %d %s, want %d", path, r.status, r.body, want)
		}
	}
	wantProblem(t, e.do(t, http.MethodGet, "/api/seats/"+booking.NewID()+"/events", nil), 404, "not-found")
	wantProblem(t, e.do(t, http.MethodGet, "/api/seats/nope/events", nil), 400, "invalid-request")
	if _, err := e.store.(*sqlite.Store).PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.do(t, http.MethodGet, "/api/seats/"+e.show.ID+"/events?sinceSeq=1", nil), 410, "events-pruned")
	wantStatus(t, e.do(t, http.MethodGet, "/api/seats/"+e.show.ID+"/events?sinceSeq=3", nil), 200)
}
