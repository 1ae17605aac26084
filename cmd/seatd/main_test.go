package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/testenv"
)

func TestMain(m *testing.M) {
	// The crash tests start this test binary again as a real seatd process, so
	// that they can kill it with SIGKILL.
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	testenv.Main(m)
}

// seatd is a server started by calling run, as main does.
type seatd struct {
	url  string
	logs *logBuffer
	stop func() error // cancels run and returns its error
}

// startSeatd runs seatd on a free loopback port with env as its environment and
// waits until it answers /healthz. It stops at the end of the test.
func startSeatd(tb testing.TB, env map[string]string) *seatd {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logBuffer{}
	out := newURLWriter()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, environ(withAuth(env)), out, logs)
	}()
	var url string
	select {
	case url = <-out.url:
	case err := <-done:
		cancel()
		tb.Fatalf("seatd exited before serving: %v\nlogs:\n%s", err, logs)
	case <-time.After(60 * time.Second):
		cancel()
		tb.Fatalf("seatd did not say its URL within 60s\nlogs:\n%s", logs)
	}
	var once sync.Once
	var runErr error
	s := &seatd{url: url, logs: logs, stop: func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("run returned %v\nlogs:\n%s", err, logs)
		}
	})
	awaitHealthy(tb, s.url)
	return s
}

// environ turns a map into an environment as os.Environ gives it.
func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func awaitHealthy(tb testing.TB, url string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s/healthz did not answer 200 within 10s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// urlWriter is seatd's stdout: it hands over the first line, the URL seatd
// serves at, without its trailing slash.
type urlWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	url  chan string
	sent bool
}

func newURLWriter() *urlWriter { return &urlWriter{url: make(chan string, 1)} }

func (w *urlWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if line, _, ok := bytes.Cut(w.buf.Bytes(), []byte("\n")); ok && !w.sent {
		w.sent = true
		w.url <- strings.TrimSuffix(string(line), "/")
	}
	return len(p), nil
}

// logBuffer keeps seatd's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// client is an API client that fails the test on transport errors.
type client struct {
	base string
	http *http.Client
}

// newClient returns a client of the server at base. Its connections are closed
// before the server stops (cleanups run last-registered first), since a server
// shutting down waits for connections that never sent a request.
func newClient(tb testing.TB, base string) *client {
	c := &client{base: base, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512},
	}}
	tb.Cleanup(c.http.CloseIdleConnections)
	return c
}

// call sends a request and decodes a JSON answer into out (if not nil).
func (c *client) call(method, path string, body any, out any) (int, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	authorize(req, b)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", booking.NewID())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", data, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *client) mustCall(tb testing.TB, method, path string, body any, wantStatus int, out any) {
	tb.Helper()
	status, err := c.call(method, path, body, out)
	if err != nil || status != wantStatus {
		tb.Fatalf("%s %s: got (%d, %v), want %d", method, path, status, err, wantStatus)
	}
}

type showJSON struct {
	ID             string `json:"id"`
	MovieTitle     string `json:"movieTitle"`
	SeatsTotal     int    `json:"seatsTotal"`
	SeatsAvailable int    `json:"seatsAvailable"`
}

type seatMapJSON struct {
	ShowID string `json:"showId"`
	Seq    int64  `json:"seq"`
	Seats  []struct {
		ID     string `json:"id"`
		Label  string `json:"label"`
		Status string `json:"status"`
	} `json:"seats"`
}

// firstShow returns the first show and its seat map.
func (c *client) firstShow(tb testing.TB) (showJSON, seatMapJSON) {
	tb.Helper()
	var shows []showJSON
	c.mustCall(tb, "GET", "/api/seats/shows", nil, 200, &shows)
	if len(shows) == 0 {
		tb.Fatal("no shows: the demo shows were not seeded")
	}
	var m seatMapJSON
	c.mustCall(tb, "GET", "/api/seats/"+shows[0].ID, nil, 200, &m)
	return shows[0], m
}

func TestRunEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(dir, "seatd.db")})
	c := newClient(t, s.url)

	var shows []showJSON
	c.mustCall(t, "GET", "/api/seats/shows", nil, 200, &shows)
	if len(shows) != len(demoMovies) {
		t.Fatalf("got %d shows, want the %d demo shows", len(shows), len(demoMovies))
	}
	for _, sh := range shows {
		if sh.SeatsTotal != 120 || sh.SeatsAvailable != 120 {
			t.Errorf("show %s: got %d of %d seats available, want 120 of 120", sh.MovieTitle, sh.SeatsAvailable, sh.SeatsTotal)
		}
	}
	_, m := c.firstShow(t)
	seats := []string{m.Seats[0].ID, m.Seats[1].ID}

	var hold struct {
		HoldToken string `json:"holdToken"`
		ExpiresAt string `json:"expiresAt"`
	}
	c.mustCall(t, "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": seats, "userId": "alice"}, 200, &hold)
	c.mustCall(t, "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": seats[1:], "userId": "bob"}, 409, nil)
	var bk struct{ BookingID string }
	c.mustCall(t, "POST", "/api/seats/book-bulk", map[string]any{"seatIds": seats, "userId": "alice", "holdToken": hold.HoldToken}, 200, &bk)
	c.mustCall(t, "GET", "/api/seats/"+m.ShowID, nil, 200, &m)
	if m.Seats[0].Status != "booked" || m.Seats[1].Status != "booked" || m.Seq != 4 {
		t.Errorf("after booking: got %s/%s seq %d, want booked/booked seq 4", m.Seats[0].Status, m.Seats[1].Status, m.Seq)
	}
	c.mustCall(t, "GET", "/readyz", nil, 200, nil)

	// What the client was told survives a restart on the same file, and the demo
	// shows are not seeded twice.
	c.http.CloseIdleConnections()
	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(s.logs.String(), "seatd shutting down") {
		t.Errorf("logs lack the shutdown line:\n%s", s.logs)
	}
	s = startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(dir, "seatd.db")})
	c = newClient(t, s.url)
	c.mustCall(t, "GET", "/api/seats/shows", nil, 200, &shows)
	if len(shows) != len(demoMovies) {
		t.Errorf("after restart: got %d shows, want %d", len(shows), len(demoMovies))
	}
	c.mustCall(t, "GET", "/api/seats/"+m.ShowID, nil, 200, &m)
	if m.Seats[0].Status != "booked" || m.Seats[1].Status != "booked" {
		t.Errorf("after restart: got %s/%s, want booked/booked", m.Seats[0].Status, m.Seats[1].Status)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"bad ttl":        {"SEATD_HOLD_TTL": "soon"},
		"short ttl":      {"SEATD_HOLD_TTL": "10ms"},
		"bad bool":       {"SEATD_DEMO": "maybe"},
		"bad log format": {"SEATD_LOG_FORMAT": "xml"},
		"bad redis url":  {"SEATD_REDIS_URL": "mongodb://x"},
		"zero max seats": {"SEATD_MAX_SEATS": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			env["SEATD_DATABASE_URL"] = filepath.Join(t.TempDir(), "seatd.db")
			err := run(t.Context(), []string{"-addr", "127.0.0.1:0"}, environ(env), io.Discard, io.Discard)
			if err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

// TestRedisSettingsExclusive: one way to reach Redis, said clearly at start.
func TestRedisSettingsExclusive(t *testing.T) {
	for name, c := range map[string]struct {
		env  map[string]string
		want string
	}{
		"url and sentinels": {map[string]string{"SEATD_REDIS_URL": "redis://127.0.0.1:1/0", "SEATD_REDIS_SENTINELS": "127.0.0.1:2", "SEATD_REDIS_MASTER": "m"}, "not both"},
		"sentinels alone":   {map[string]string{"SEATD_REDIS_SENTINELS": "127.0.0.1:2"}, "only one is set"},
		"master alone":      {map[string]string{"SEATD_REDIS_MASTER": "m"}, "only one is set"},
		"url and password":  {map[string]string{"SEATD_REDIS_URL": "redis://127.0.0.1:1/0", "SEATD_REDIS_PASSWORD": "x"}, "go in the URL"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig([]string{"-addr", "127.0.0.1:0"}, environ(c.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	cfg, err := parseConfig(nil, environ(map[string]string{"SEATD_REDIS_SENTINELS": "127.0.0.1:1, 127.0.0.1:2", "SEATD_REDIS_MASTER": "seatd"}), io.Discard)
	if err != nil || !cfg.UsesRedis() || len(cfg.RedisSentinels) != 2 || cfg.RedisSentinels[1] != "127.0.0.1:2" {
		t.Errorf("got %+v, %v; want two sentinels and Redis in use", cfg.RedisSentinels, err)
	}
}

func TestRunLogsJSON(t *testing.T) {
	s := startSeatd(t, map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"), "SEATD_LOG_FORMAT": "json", "SEATD_DEMO": "false",
	})
	_ = s // the address was found, so the listening line was logged; now check it is JSON
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("log line %q is not JSON: %v", sc.Text(), err)
		}
	}
	var shows []showJSON
	newClient(t, s.url).mustCall(t, "GET", "/api/seats/shows", nil, 200, &shows)
	if len(shows) != 0 {
		t.Errorf("with SEATD_DEMO=false: got %d shows, want 0", len(shows))
	}
}

// TestBadAddressTouchesNothing: a configuration that cannot serve fails
// before the database is created or seeded.
func TestBadAddressTouchesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, args := range map[string][]string{
		"port out of range":       {"-addr", "127.0.0.1:99999"},
		"port in use":             {"-addr", busy.Addr().String()},
		"no port":                 {"-addr", "localhost"},
		"metrics address in use":  {"-addr", "127.0.0.1:0", "-metrics-addr", busy.Addr().String()},
		"pprof address in use":    {"-addr", "127.0.0.1:0", "-pprof-addr", busy.Addr().String()},
		"metrics address no port": {"-addr", "127.0.0.1:0", "-metrics-addr", "localhost"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "seatd.db")
			err := run(t.Context(), args, environ(map[string]string{"SEATD_DATABASE_URL": path}), io.Discard, io.Discard)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if _, serr := os.Stat(path); !os.IsNotExist(serr) {
				t.Errorf("after %v: the database file exists (%v), want nothing created", err, serr)
			}
		})
	}
}

// TestUnknownVariableWarned: a SEATD_ variable seatd does not read (a typo)
// is named at startup.
func TestUnknownVariableWarned(t *testing.T) {
	s := startSeatd(t, map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"), "SEATD_HOLD_TLL": "5s", "SEATD_TEST_WHATEVER": "x",
	})
	logs := s.logs.String()
	if !strings.Contains(logs, "environment variable not known to seatd") || !strings.Contains(logs, "SEATD_HOLD_TLL") {
		t.Errorf("logs do not name SEATD_HOLD_TLL:\n%s", logs)
	}
	if strings.Contains(logs, "SEATD_TEST_WHATEVER") || strings.Contains(logs, "name=SEATD_DATABASE_URL") {
		t.Errorf("logs warn of a variable seatd knows or the tests' own:\n%s", logs)
	}
}

// TestDemoReset: a database with shows is not seeded again, which the log
// says; SEATD_DEMO_RESET starts it afresh.
func TestDemoReset(t *testing.T) {
	env := map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db")}
	s := startSeatd(t, env)
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	c.hold(t, "alice", m.Seats[0].ID)
	c.http.CloseIdleConnections()
	s.stop()
	s = startSeatd(t, env)
	if !strings.Contains(s.logs.String(), "demo shows not seeded: the database has shows already") {
		t.Errorf("restart on a seeded database: the log does not say why nothing was seeded:\n%s", s.logs)
	}
	s.stop()
	env["SEATD_DEMO_RESET"] = "true"
	s = startSeatd(t, env)
	c = newClient(t, s.url)
	c.mustCall(t, "GET", "/api/seats/"+m.ShowID, nil, 200, &m)
	if m.Seats[0].Status != "available" || m.Seq != 0 {
		t.Errorf("after the reset: got seat %s and seq %d, want available and 0", m.Seats[0].Status, m.Seq)
	}
}
