package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seatmanager/auth"
	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/internal/testenv"
	"seatmanager/memory"
	"seatmanager/postgres"
	"seatmanager/sqlite"
	"seatmanager/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// store is what the API tests need of a store.
type store interface {
	storetest.Store
	Ping(ctx context.Context) error
}

// env is an API over a real store and the in-process gate, with one show.
type env struct {
	handler http.Handler
	store   store
	close   func()
	show    booking.NewShow
	seats   []string
}

// engines are the stores the API tests run on.
var engines = []string{"sqlite", "postgres"}

// newEnv returns an API on SQLite.
func newEnv(t *testing.T, cfg booking.Config) *env { return newEnvOn(t, "sqlite", cfg) }

// newEnvOn returns an API on the named engine.
func newEnvOn(t *testing.T, engine string, cfg booking.Config) *env { return newEnvTB(t, engine, cfg) }

func newEnvTB(t testing.TB, engine string, cfg booking.Config) *env {
	t.Helper()
	e := &env{}
	switch engine {
	case "sqlite":
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
		if err != nil {
			t.Fatal(err)
		}
		e.store, e.close = s, func() { s.Close() }
	case "postgres":
		s, err := postgres.Open(t.Context(), testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		e.store, e.close = s, func() { s.Close() }
	default:
		t.Fatalf("unknown engine %q", engine)
	}
	t.Cleanup(e.close)
	e.show = storetest.NewShowSpec(2, 6)
	if _, err := e.store.CreateShow(t.Context(), e.show); err != nil {
		t.Fatal(err)
	}
	for _, seat := range e.show.Seats {
		e.seats = append(e.seats, seat.ID)
	}
	svc := booking.NewService(e.store, memory.NewGate(), nil, cfg)
	e.handler = runServer(t, httpapi.NewServer(svc, httpapi.Config{
		Ready: e.store.Ping, Receipts: e.store, Markers: memory.NewMarkers(0), Auth: testVerifier,
	}))
	return e
}

// testSecret signs the tokens of the tests' users: the API tests run with
// bearer tokens required, as seatd does, and env.do sends the token of the
// user a request names.
var (
	testSecret      = []byte("httpapi-tests-secret-of-32-bytes-or-more")
	testVerifier, _ = auth.NewVerifier(testSecret, nil)
	testIssuer      = auth.NewIssuer(testSecret, time.Hour)
)

// tokenOf returns a token proving user.
func tokenOf(t testing.TB, user string) string {
	t.Helper()
	tok, _, err := testIssuer.Issue(user)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authorize gives req the token of the user its body or query names, if it
// is a valid user id and req has no Authorization of its own: a request with
// an invalid userId is sent as it is, to be answered for it.
func authorize(t testing.TB, req *http.Request, body []byte) {
	t.Helper()
	var who struct {
		UserID any `json:"userId"`
	}
	json.Unmarshal(body, &who)
	user, _ := who.UserID.(string)
	if user == "" {
		user = req.URL.Query().Get("userId")
	}
	if booking.ValidUserID(user) && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+tokenOf(t, user))
	}
}

// runServer closes the server at the end of the test, as seatd does once it
// stops serving.
func runServer(t testing.TB, s *httpapi.Server) *httpapi.Server {
	t.Cleanup(s.Close)
	return s
}

// response is an answer as a client sees it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (e *env) do(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	return e.request(t, method, path, body, header...)
}

// request is do for tests and benchmarks alike. It checks every request and
// its answer against the OpenAPI document (see checkOpenAPI).
func (e *env) request(t testing.TB, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if rd != nil {
		b, _ := io.ReadAll(rd)
		req.Body = io.NopCloser(bytes.NewReader(b))
		authorize(t, req, b)
	} else {
		authorize(t, req, nil)
	}
	sent := req.Clone(context.WithoutCancel(t.Context()))
	sent.Body = nil
	if req.Body != nil && req.Body != http.NoBody {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		sent.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	checkOpenAPI(t, sent, res)
	return res
}

func (e *env) post(t *testing.T, path string, body any) response {
	t.Helper()
	return e.do(t, http.MethodPost, path, body, "Idempotency-Key", booking.NewID())
}

// wantProblem fails unless r is a problem of the given status and type slug.
func wantProblem(t *testing.T, r response, status int, slug string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("got Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["type"] != "/problems/"+slug || p["status"] != float64(status) || p["title"] == "" {
		t.Errorf("got problem %v, want type /problems/%s and status %d", p, slug, status)
	}
	return p
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d; body %s", r.status, status, r.body)
	}
}

// seatStatuses reads the seat map through the API.
func (e *env) seatStatuses(t *testing.T) (seq float64, statuses map[string]string) {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/seats/"+e.show.ID, nil)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	statuses = make(map[string]string)
	for _, s := range m["seats"].([]any) {
		seat := s.(map[string]any)
		statuses[seat["id"].(string)] = seat["status"].(string)
	}
	return m["seq"].(float64), statuses
}

func wantSeats(t *testing.T, e *env, want string, ids ...string) {
	t.Helper()
	_, got := e.seatStatuses(t)
	for _, id := range ids {
		if got[id] != want {
			t.Errorf("seat %s: got %q, want %q", id, got[id], want)
		}
	}
}

func seatList(t *testing.T, v any) []string {
	t.Helper()
	raw, ok := v.([]any)
	if !ok {
		t.Fatalf("got %v, want a list of seat ids", v)
	}
	out := make([]string, len(raw))
	for i, s := range raw {
		out[i] = s.(string)
	}
	return out
}

func TestHealth(t *testing.T) {
	e := newEnv(t, booking.Config{})
	wantStatus(t, e.do(t, http.MethodGet, "/healthz", nil), http.StatusOK)
	wantStatus(t, e.do(t, http.MethodGet, "/readyz", nil), http.StatusOK)
	e.close()
	wantProblem(t, e.do(t, http.MethodGet, "/readyz", nil), http.StatusServiceUnavailable, "not-ready")
	wantStatus(t, e.do(t, http.MethodGet, "/healthz", nil), http.StatusOK)
}

func TestProblemTypesResolve(t *testing.T) {
	e := newEnv(t, booking.Config{})
	r := e.do(t, http.MethodGet, "/problems/seats-unavailable", nil)
	wantStatus(t, r, http.StatusOK)
	if d := r.json(t); d["status"] != float64(409) || d["description"] == "" {
		t.Errorf("got %v, want the description of a 409", d)
	}
	wantProblem(t, e.do(t, http.MethodGet, "/problems/nonsense", nil), http.StatusNotFound, "not-found")
}

func TestWithoutGate(t *testing.T) {
	// A service without a gate lets the database decide everything.
	e := newEnv(t, booking.Config{})
	e.handler = runServer(t, httpapi.NewServer(booking.NewService(e.store, nil, nil, booking.Config{HoldTTL: time.Minute}),
		httpapi.Config{Receipts: e.store, Markers: memory.NewMarkers(0), Auth: testVerifier}))
	wantStatus(t, e.post(t, "/api/seats/hold-bulk", map[string]any{"seatIds": e.seats[:1], "userId": "u"}), http.StatusOK)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// awaitLapse waits until the seat map shows seat available again: its hold
// has lapsed by the database clock.
func (e *env) awaitLapse(t *testing.T, seat string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, st := e.seatStatuses(t); st[seat] == "available" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("hold did not lapse within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
