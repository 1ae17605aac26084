package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"seatmanager/internal/testenv"
)

// childEnv makes the test binary run main instead of the tests.
const childEnv = "SEATD_TEST_RUN_AS_SEATD"

// seatdProcess is seatd running as a child process.
type seatdProcess struct {
	cmd  *exec.Cmd
	url  string
	logs *logBuffer
	done chan error
}

// startProcess starts seatd as a child process with env added to the test's
// environment, and waits until it answers /healthz.
func startProcess(t *testing.T, env map[string]string) *seatdProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range withAuth(env) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &seatdProcess{cmd: cmd, logs: &logBuffer{}, done: make(chan error, 1)}
	out := newURLWriter()
	cmd.Stdout, cmd.Stderr = out, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.url = <-out.url:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("seatd exited before serving: %v\nlogs:\n%s", err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("seatd did not say its URL within 60s\nlogs:\n%s", p.logs)
	}
	awaitHealthy(t, p.url)
	return p
}

// kill ends the process with SIGKILL: no shutdown, no flush, nothing.
func (p *seatdProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-p.done
	p.done <- err
}

// answer is what a keyed request got: its status and body, or nothing.
type answer struct {
	got    bool
	status int
	body   []byte
}

// keyedPost sends one keyed POST and returns its answer; a transport error is
// no answer.
func keyedPost(c *http.Client, url, key, body string) answer {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return answer{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	authorize(req, []byte(body))
	resp, err := c.Do(req)
	if err != nil {
		return answer{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}
	}
	return answer{got: true, status: resp.StatusCode, body: b}
}

// retryKeyed sends a keyed POST until it gets an answer that is not "still in
// progress", within a bound.
func retryKeyed(t *testing.T, c *http.Client, url, key, body string) answer {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := keyedPost(c, url, key, body)
		if a.got && !(a.status == http.StatusConflict && bytes.Contains(a.body, []byte("idempotency-key-in-use"))) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s: no final answer within 30s (last: %+v)", key, a)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCrashKeepsAnswers (docs/RELIABILITY.md, drill 4) kills one of two seatd
// with SIGKILL while buyers hold and book with Idempotency-Keys, and retries
// every key on the other: each answer received before the crash comes back
// byte for byte, the database holds exactly one effect per key, and the
// survivor releases the dead one's holds when they lapse.
func TestCrashKeepsAnswers(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	env := map[string]string{
		"SEATD_DATABASE_URL": dbURL, "SEATD_DEMO": "true",
		"SEATD_REDIS_URL": "redis://" + testenv.RedisAddr(t) + "/0", "SEATD_REDIS_PREFIX": testenv.KeyPrefix(t),
		// Holds outlive the retries, which may wait out a dead request's
		// idempotency lease (10 s), and lapse soon after: the survivor
		// must release the dead one's by their expiry events alone.
		"SEATD_HOLD_TTL": "15s", "SEATD_SWEEP_INTERVAL": "0",
	}
	restoreKeyspaceEvents(t, testenv.RedisAddr(t))
	survivor := startProcess(t, env)
	p := startProcess(t, env)
	c := newClient(t, p.url)
	_, m := c.firstShow(t)
	seats := seatIDs(m)

	type buyer struct {
		user, seat          string
		holdKey, bookKey    string
		holdBody, bookBody  string
		holdAnswer, bookAns answer
		holdSent, bookTried bool
	}
	const workers = 8
	buyers := make([]*buyer, len(seats))
	for i, seat := range seats {
		buyers[i] = &buyer{
			user: fmt.Sprintf("crash-%d", i), seat: seat,
			holdKey: fmt.Sprintf("hold-%d", i), bookKey: fmt.Sprintf("book-%d", i),
		}
		buyers[i].holdBody = fmt.Sprintf(`{"seatIds":["%s"],"userId":"%s"}`, seat, buyers[i].user)
	}
	httpc := &http.Client{Timeout: 10 * time.Second}
	var answered sync.WaitGroup
	answered.Add(40) // kill after this many answers
	var count int
	var mu sync.Mutex
	noteAnswer := func() {
		mu.Lock()
		defer mu.Unlock()
		if count++; count <= 40 {
			answered.Done()
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(buyers); i += workers {
				select {
				case <-stop:
					return
				default:
				}
				b := buyers[i]
				b.holdSent = true
				b.holdAnswer = keyedPost(httpc, p.url+"/api/seats/hold-bulk", b.holdKey, b.holdBody)
				if !b.holdAnswer.got {
					return
				}
				noteAnswer()
				if b.holdAnswer.status != http.StatusOK {
					t.Errorf("%s: hold got %d %s", b.user, b.holdAnswer.status, b.holdAnswer.body)
					return
				}
				token := jsonField(t, b.holdAnswer.body, "holdToken")
				b.bookBody = fmt.Sprintf(`{"seatIds":["%s"],"userId":"%s","holdToken":"%s"}`, b.seat, b.user, token)
				b.bookTried = true
				b.bookAns = keyedPost(httpc, p.url+"/api/seats/book-bulk", b.bookKey, b.bookBody)
				if !b.bookAns.got {
					return
				}
				noteAnswer()
			}
		})
	}
	answered.Wait()
	// Holds nobody books, left behind by the instance about to die.
	var orphans []holdJSON
	for i := range 3 {
		orphans = append(orphans, c.hold(t, fmt.Sprintf("orphan-%d", i), seats[len(seats)-1-i]))
	}
	p.kill(t)
	close(stop)
	wg.Wait()

	// Every client retries on the instance that kept serving.
	p = survivor
	var tried, withAnswer int
	for _, b := range buyers {
		if !b.holdSent {
			continue
		}
		tried++
		hold := retryKeyed(t, httpc, p.url+"/api/seats/hold-bulk", b.holdKey, b.holdBody)
		if b.holdAnswer.got {
			withAnswer++
			if hold.status != b.holdAnswer.status || !bytes.Equal(hold.body, b.holdAnswer.body) {
				t.Errorf("%s: hold answered %d %s before the crash, %d %s after", b.user, b.holdAnswer.status, b.holdAnswer.body, hold.status, hold.body)
			}
		}
		if hold.status != http.StatusOK {
			t.Errorf("%s: hold retry got %d %s", b.user, hold.status, hold.body)
			continue
		}
		if !b.bookTried {
			continue
		}
		book := retryKeyed(t, httpc, p.url+"/api/seats/book-bulk", b.bookKey, b.bookBody)
		if b.bookAns.got && (book.status != b.bookAns.status || !bytes.Equal(book.body, b.bookAns.body)) {
			t.Errorf("%s: book answered %d %s before the crash, %d %s after", b.user, b.bookAns.status, b.bookAns.body, book.status, book.body)
		}
		if book.status != http.StatusOK {
			t.Errorf("%s: book retry got %d %s", b.user, book.status, book.body)
		}
	}
	if withAnswer == 0 {
		t.Fatal("no answer arrived before the crash; the test proved nothing")
	}
	t.Logf("%d buyers had started, %d holds answered before the kill; their retries on the survivor got the same answers", tried, withAnswer)
	var worst time.Duration
	db := openDB(t, dbURL)
	for _, h := range orphans {
		worst = max(worst, awaitRelease(t, db, true, h, 5*time.Second))
	}
	t.Logf("the dead instance's holds were released by the survivor, the last %v after its expiry", worst)
	if worst > 500*time.Millisecond {
		t.Errorf("the last orphaned hold was released %v after its expiry; want within 500ms", worst)
	}

	for _, b := range buyers {
		var holds, bookings int
		if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM holds WHERE user_id = $1", b.user).Scan(&holds); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(t.Context(), "SELECT count(DISTINCT booking_id) FROM bookings WHERE user_id = $1", b.user).Scan(&bookings); err != nil {
			t.Fatal(err)
		}
		if holds > 1 || bookings > 1 {
			t.Errorf("%s: %d holds and %d bookings in the database, want at most one of each", b.user, holds, bookings)
		}
		if b.holdSent && holds != 1 {
			t.Errorf("%s: %d holds after the hold was retried, want 1", b.user, holds)
		}
		if b.bookTried && bookings != 1 {
			t.Errorf("%s: %d bookings after the book was retried, want 1", b.user, bookings)
		}
	}
}

func jsonField(t *testing.T, body []byte, field string) string {
	t.Helper()
	i := bytes.Index(body, []byte(`"`+field+`":"`))
	if i < 0 {
		t.Fatalf("no %s in %s", field, body)
	}
	rest := body[i+len(field)+4:]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// TestDisconnectThenRetry: a client sends a book request and hangs up before the
// answer; its retry with the same key gets the booking, and there is one.
func TestDisconnectThenRetry(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": dbURL, "SEATD_DEMO": "true"})
	c := newClient(t, s.url)
	_, m := c.firstShow(t)
	seat := m.Seats[0].ID
	var hold struct{ HoldToken string }
	c.mustCall(t, "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": []string{seat}, "userId": "leaver"}, 200, &hold)

	body := fmt.Sprintf(`{"seatIds":["%s"],"userId":"leaver","holdToken":"%s"}`, seat, hold.HoldToken)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/seats/book-bulk HTTP/1.1\r\nHost: seatd\r\nContent-Type: application/json\r\n"+
		"Idempotency-Key: leave-1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	conn.Close() // gone before any answer

	a := retryKeyed(t, &http.Client{Timeout: 10 * time.Second}, s.url+"/api/seats/book-bulk", "leave-1", body)
	if a.status != http.StatusOK {
		t.Fatalf("retry: got %d %s, want the booking", a.status, a.body)
	}
	var ids []string
	rows, err := openDB(t, dbURL).QueryContext(t.Context(), "SELECT DISTINCT booking_id FROM bookings WHERE user_id = 'leaver'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if len(ids) != 1 || jsonField(t, a.body, "bookingId") != ids[0] {
		t.Errorf("database has bookings %v, the retry was told %s: want exactly that one", ids, a.body)
	}
}

// TestCrashKeepsRefusal: a buyer refused at the gate (409) whose seatd is then
// killed gets that same 409 from its retry after the restart, even though the
// seat has become free meanwhile: the refusal was stored before it was sent.
func TestCrashKeepsRefusal(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	env := map[string]string{"SEATD_DATABASE_URL": dbURL, "SEATD_DEMO": "true"}
	p := startProcess(t, env)
	c := newClient(t, p.url)
	_, m := c.firstShow(t)
	seat := m.Seats[0].ID
	c.mustCall(t, "POST", "/api/seats/hold-bulk", map[string]any{"seatIds": []string{seat}, "userId": "alice"}, 200, nil)
	httpc := &http.Client{Timeout: 10 * time.Second}
	body := fmt.Sprintf(`{"seatIds":["%s"],"userId":"bob"}`, seat)
	first := keyedPost(httpc, p.url+"/api/seats/hold-bulk", "bob-1", body)
	if !first.got || first.status != http.StatusConflict {
		t.Fatalf("got %+v, want 409", first)
	}
	c.http.CloseIdleConnections()
	p.kill(t)
	p = startProcess(t, env)
	newClient(t, p.url).mustCall(t, "POST", "/api/seats/release-bulk", map[string]any{"seatIds": []string{seat}, "userId": "alice"}, 200, nil)
	again := retryKeyed(t, httpc, p.url+"/api/seats/hold-bulk", "bob-1", body)
	if again.status != first.status || !bytes.Equal(again.body, first.body) {
		t.Errorf("retry after the crash: got %d %s, want the 409 %s", again.status, again.body, first.body)
	}
	var holds int
	if err := openDB(t, dbURL).QueryRowContext(t.Context(), "SELECT count(*) FROM holds WHERE user_id = 'bob'").Scan(&holds); err != nil {
		t.Fatal(err)
	}
	if holds != 0 {
		t.Errorf("bob was told 409 but has %d holds", holds)
	}
}
