package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"seatmanager/booking"
)

// reply is an answer as the tests read it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// problemType returns the type of a problem answer, or "".
func (r reply) problemType() string {
	var p struct{ Type string }
	json.Unmarshal(r.body, &p)
	return p.Type
}

// send sends a request with the Authorization header given (none if empty),
// whatever its body says; a POST gets a fresh Idempotency-Key.
func (c *client) send(t *testing.T, method, path, authorization string, body any) reply {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", booking.NewID())
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, data}
}

// signed returns a token of claims signed with key by m.
func signed(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rowCounts counts what a change would leave in the database.
func rowCounts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, q := range []string{
		"SELECT count(*) FROM holds", "SELECT count(*) FROM bookings", "SELECT count(*) FROM receipts",
		"SELECT count(*) FROM seat_events", "SELECT count(*) FROM seats WHERE status = 'held'",
		"SELECT count(*) FROM seats WHERE status = 'booked'",
	} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out[q] = n
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	for q, n := range want {
		if got[q] != n {
			t.Errorf("%s: %s is %d, want %d (unchanged)", what, q, got[q], n)
		}
	}
}

// TestEveryRouteNeedsItsCaller: each route that acts for a user, sent with no
// token, an expired one, one signed with another key, an "alg: none" one, or
// a valid token of another user than the body names, is refused with the
// right problem, and the database is as it was.
func TestEveryRouteNeedsItsCaller(t *testing.T) {
	dbURL := filepath.Join(t.TempDir(), "seatd.db")
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": dbURL})
	c := newClient(t, s.url)
	db := openDB(t, dbURL)
	_, m := c.firstShow(t)
	seats := seatIDs(m)
	h := c.hold(t, "alice", seats[0], seats[1])
	before := rowCounts(t, db)

	exp := time.Now().Add(time.Hour).Unix()
	alice := jwt.MapClaims{"sub": "alice", "exp": exp}
	tokens := []struct {
		name, authorization string
		status              int
		problem             string
	}{
		{"no token", "", 401, "/problems/unauthenticated"},
		{"not bearer", "Basic YWxpY2U6eA==", 401, "/problems/unauthenticated"},
		{"expired", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testSecret), "", jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Minute).Unix()}), 401, "/problems/unauthenticated"},
		{"wrong key", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte("not the secret seatd was given, 32+ bytes"), "", alice), 401, "/problems/unauthenticated"},
		{"alg none", "Bearer " + signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", alice), 401, "/problems/unauthenticated"},
		{"another user's token", "Bearer " + tokenFor("mallory"), 403, "/problems/forbidden"},
	}
	routes := []struct {
		name, method, path string
		body               any
	}{
		{"hold", "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": seats[2:4], "userId": "alice"}},
		{"book", "POST", "/api/seats/book-bulk", map[string]any{"seatIds": h.SeatIDs, "userId": "alice", "holdToken": h.HoldToken}},
		{"release", "POST", "/api/seats/release-bulk", map[string]any{"seatIds": h.SeatIDs, "userId": "alice"}},
		{"extend", "POST", "/api/holds/" + h.HoldToken + "/extend", map[string]any{"userId": "alice"}},
		{"lookup", "GET", "/api/holds/" + h.HoldToken + "?userId=alice", nil},
	}
	for _, r := range routes {
		for _, tok := range tokens {
			t.Run(r.name+"/"+tok.name, func(t *testing.T) {
				got := c.send(t, r.method, r.path, tok.authorization, r.body)
				if got.status != tok.status || got.problemType() != tok.problem ||
					!strings.HasPrefix(got.header.Get("Content-Type"), "application/problem+json") {
					t.Fatalf("got %d %s %s, want %d %s", got.status, got.header.Get("Content-Type"), got.body, tok.status, tok.problem)
				}
				challenge := got.header.Get("WWW-Authenticate")
				switch {
				case tok.status == 401 && tok.authorization == "" && challenge != `Bearer realm="seatd"`:
					t.Errorf("WWW-Authenticate: got %q, want a bare Bearer challenge", challenge)
				case tok.status == 401 && tok.authorization != "" && !strings.Contains(challenge, `error="invalid_token"`):
					t.Errorf("WWW-Authenticate: got %q, want error=\"invalid_token\"", challenge)
				case tok.status == 403 && challenge != "":
					t.Errorf("WWW-Authenticate on a 403: got %q, want none", challenge)
				}
			})
		}
	}
	sameCounts(t, "after every refused request", rowCounts(t, db), before)
	// Alice herself, with no userId in the body, may still book.
	if got := c.send(t, "POST", "/api/seats/book-bulk", "Bearer "+tokenFor("alice"), map[string]any{"seatIds": h.SeatIDs, "holdToken": h.HoldToken}); got.status != 200 {
		t.Errorf("alice books with her token: got %d %s, want 200", got.status, got.body)
	}
}

// TestOtherUsersHold: bob, with a valid token of his own and alice's hold
// token, can neither book, release, extend nor look up her hold.
func TestOtherUsersHold(t *testing.T) {
	dbURL := filepath.Join(t.TempDir(), "seatd.db")
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": dbURL})
	c := newClient(t, s.url)
	db := openDB(t, dbURL)
	_, m := c.firstShow(t)
	h := c.hold(t, "alice", seatIDs(m)[:2]...)
	before := rowCounts(t, db)
	bob := "Bearer " + tokenFor("bob")
	for _, tt := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"book", "POST", "/api/seats/book-bulk", map[string]any{"seatIds": h.SeatIDs, "holdToken": h.HoldToken}, 409},
		{"release", "POST", "/api/seats/release-bulk", map[string]any{"seatIds": h.SeatIDs, "holdToken": h.HoldToken}, 409},
		{"extend", "POST", "/api/holds/" + h.HoldToken + "/extend", map[string]any{}, 404},
		{"lookup", "GET", "/api/holds/" + h.HoldToken, nil, 404},
	} {
		if got := c.send(t, tt.method, tt.path, bob, tt.body); got.status != tt.status {
			t.Errorf("bob's %s of alice's hold: got %d %s, want %d", tt.name, got.status, got.body, tt.status)
		}
	}
	// Bob's refusals keep their answers for his retries (receipts of his own);
	// nothing else changed.
	after := rowCounts(t, db)
	delete(before, "SELECT count(*) FROM receipts")
	sameCounts(t, "after bob's attempts", after, before)
	if got := c.send(t, "GET", "/api/holds/"+h.HoldToken, "Bearer "+tokenFor("alice"), nil); got.status != 200 {
		t.Errorf("alice looks up her hold: got %d %s, want 200", got.status, got.body)
	}
}

// TestHeldCapInParallel: 50 holds at once by one user, of one seat each,
// leave exactly SEATD_MAX_HELD_PER_USER seats held by that user, by SQL, on
// both stores. (The per-user rate limit is off, so that the cap, not the
// limit, is what stops them.)
func TestHeldCapInParallel(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres+redis"} {
		t.Run(backend, func(t *testing.T) {
			env := backendEnv(t, backend)
			env["SEATD_MAX_HELD_PER_USER"] = "7"
			env["SEATD_RATE_USER"] = "off"
			s := startSeatd(t, env)
			c := newClient(t, s.url)
			db := openDB(t, env["SEATD_DATABASE_URL"])
			_, m := c.firstShow(t)
			seats := seatIDs(m)
			const n = 50
			statuses := make([]int, n)
			problems := make([]string, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					got := c.send(t, "POST", "/api/seats/hold-bulk", "Bearer "+tokenFor("hoarder"), map[string]any{"seatIds": seats[i : i+1]})
					statuses[i], problems[i] = got.status, got.problemType()
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i, st := range statuses {
				switch {
				case st == 200:
					won++
				case st != 409 || problems[i] != "/problems/limit-reached":
					t.Errorf("hold %d: got %d %s, want 200 or 409 limit-reached", i, st, problems[i])
				}
			}
			var held int
			q := "SELECT count(*) FROM seats WHERE status = 'held' AND holder = 'hoarder'"
			if err := db.QueryRow(q).Scan(&held); err != nil {
				t.Fatal(err)
			}
			if won != 7 || held != 7 {
				t.Errorf("50 parallel holds under a cap of 7: %d succeeded and %d seats are held by the user, want 7 and 7", won, held)
			}
		})
	}
}

// TestRateLimits: a user over its limit is answered 429 with Retry-After,
// while other users' changes and everybody's seat-map reads go on; guest
// sessions and changes are limited per client address too.
func TestRateLimits(t *testing.T) {
	s := startSeatd(t, map[string]string{
		"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"),
		"SEATD_RATE_USER":    "3/m", "SEATD_RATE_ADDRESS": "6/m", "SEATD_RATE_SESSIONS": "2/h",
	})
	c := newClient(t, s.url)
	show, m := c.firstShow(t)
	seats := seatIDs(m)
	for i := range 3 {
		c.hold(t, "alice", seats[i])
	}
	got := c.send(t, "POST", "/api/seats/hold-bulk", "Bearer "+tokenFor("alice"), map[string]any{"seatIds": seats[3:4]})
	if got.status != 429 || got.problemType() != "/problems/rate-limited" || got.header.Get("Retry-After") == "" {
		t.Fatalf("alice's 4th change within a minute: got %d %s (Retry-After %q), want 429 rate-limited with Retry-After",
			got.status, got.body, got.header.Get("Retry-After"))
	}
	var seen seatMapJSON
	for range 20 {
		c.mustCall(t, "GET", "/api/seats/"+show.ID, nil, 200, &seen)
	}
	c.hold(t, "bob", seats[4])
	c.hold(t, "carol", seats[5])
	// Six changes came from this address (alice's refused one among them).
	got = c.send(t, "POST", "/api/seats/hold-bulk", "Bearer "+tokenFor("dave"), map[string]any{"seatIds": seats[6:7]})
	if got.status != 429 || !strings.Contains(string(got.body), "address") {
		t.Errorf("the address's 7th change within a minute: got %d %s, want 429 naming the address limit", got.status, got.body)
	}
	for i := range 3 {
		want := 201
		if i == 2 {
			want = 429
		}
		if got := c.send(t, "POST", "/api/sessions", "", nil); got.status != want {
			t.Errorf("session %d of the hour: got %d %s, want %d", i+1, got.status, got.body, want)
		}
	}
}

// TestGuestSessionOutlivesRestart: on the embedded default, a guest token
// works, and works again after seatd restarts on the same database, since
// the secret it is signed with is kept there.
func TestGuestSessionOutlivesRestart(t *testing.T) {
	dbURL := filepath.Join(t.TempDir(), "seatd.db")
	env := map[string]string{"SEATD_DATABASE_URL": dbURL, "SEATD_AUTH": "on"} // no secret: seatd makes one
	s := startSeatd(t, env)
	c := newClient(t, s.url)
	got := c.send(t, "POST", "/api/sessions", "", nil)
	var sess struct {
		Token     string    `json:"token"`
		UserID    string    `json:"userId"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal(got.body, &sess); got.status != 201 || err != nil || sess.Token == "" || !strings.HasPrefix(sess.UserID, "guest-") {
		t.Fatalf("POST /api/sessions: got %d %s, want 201 with a guest token", got.status, got.body)
	}
	if until := time.Until(sess.ExpiresAt); until < 23*time.Hour || until > 25*time.Hour {
		t.Errorf("guest token expires in %v, want about 24h", until)
	}
	_, m := c.firstShow(t)
	var h holdJSON
	got = c.send(t, "POST", "/api/seats/hold-bulk", "Bearer "+sess.Token, map[string]any{"seatIds": seatIDs(m)[:1]})
	if json.Unmarshal(got.body, &h); got.status != 200 {
		t.Fatalf("hold with the guest token: got %d %s", got.status, got.body)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startSeatd(t, env)
	c = newClient(t, s.url)
	if got := c.send(t, "GET", "/api/holds/"+h.HoldToken, "Bearer "+sess.Token, nil); got.status != 200 {
		t.Errorf("the guest looks up its hold after a restart: got %d %s, want 200", got.status, got.body)
	}
}

// TestAuthOff: with SEATD_AUTH=off seatd says loudly that it trusts the body,
// and does; sessions still work for the page.
func TestAuthOff(t *testing.T) {
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"), "SEATD_AUTH": "off"})
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	if got := c.send(t, "POST", "/api/seats/hold-bulk", "", map[string]any{"seatIds": seatIDs(m)[:1], "userId": "alice"}); got.status != 200 {
		t.Errorf("hold naming alice, with no token: got %d %s, want 200", got.status, got.body)
	}
	if !strings.Contains(s.logs.String(), "AUTHENTICATION IS OFF") {
		t.Errorf("the log does not warn that authentication is off:\n%s", s.logs)
	}
}

// TestLoginPublicKeys: a ticketing site's login signs tokens with its own
// Ed25519 key; seatd, given the public key in a PEM file, takes them (by kid)
// and no others.
func TestLoginPublicKeys(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "login.pem")
	if err := os.WriteFile(keys, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"kid": "site-1"}, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db"), "SEATD_AUTH_PUBLIC_KEYS": keys})
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	claims := jwt.MapClaims{"sub": "member-42", "exp": time.Now().Add(time.Hour).Unix()}
	for _, tt := range []struct {
		name   string
		token  string
		status int
	}{
		{"signed by the login", signed(t, jwt.SigningMethodEdDSA, priv, "site-1", claims), 200},
		{"signed by a stranger", signed(t, jwt.SigningMethodEdDSA, stranger, "site-1", claims), 401},
		{"an unknown kid", signed(t, jwt.SigningMethodEdDSA, priv, "site-2", claims), 401},
	} {
		got := c.send(t, "POST", "/api/seats/hold-bulk", "Bearer "+tt.token, map[string]any{"seatIds": seatIDs(m)[:1]})
		if got.status != tt.status {
			t.Errorf("%s: got %d %s, want %d", tt.name, got.status, got.body, tt.status)
		}
	}
}
