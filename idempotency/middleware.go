package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/batch"
	"seatmanager/internal/breaker"
	"seatmanager/internal/deadline"
)

// Store keeps receipts: the database, the only authority on what a key answered.
type Store interface {
	// Receipt returns the receipt of a key, or booking.ErrNotFound.
	Receipt(ctx context.Context, scope, key string) (booking.Receipt, error)
	// SaveReceipt stores r unless the key has a receipt, and returns the one that stands.
	SaveReceipt(ctx context.Context, r booking.Receipt, ttl time.Duration) (booking.Receipt, error)
}

// InUseError is ErrKeyInUse with how long the client should wait.
type InUseError struct{ RetryAfter time.Duration }

func (e *InUseError) Error() string { return ErrKeyInUse.Error() }

// Unwrap lets errors.Is match ErrKeyInUse.
func (e *InUseError) Unwrap() error { return ErrKeyInUse }

// Config is what a Middleware needs. Receipts, Markers, Scope and Fail are required.
type Config struct {
	Receipts Store
	// Batch, if set, writes the answers of refused requests many at a time
	// (see groupcommit.go). Usually the same store.
	Batch   BatchStore
	Markers Markers
	// SharedMarkers says the markers outlive this process (Redis): only then
	// may a refusal at the gate be kept in them alone, and still be replayed
	// after seatd crashes. Markers of this process's memory lose it with the
	// process, so those refusals go to the database as any other.
	SharedMarkers bool
	// Scope names who makes the request, from the request and its body; keys are
	// kept per scope and route. An error means the request cannot be attributed;
	// it runs without a key, and its handler is expected to reject it.
	Scope func(r *http.Request, body []byte) (string, error)
	// Fail answers a request with an error of this package, a *http.MaxBytesError
	// or an internal error.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
	// MaxBodyBytes caps request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// TTL is how long receipts are kept. Default 24h.
	TTL time.Duration
	// RefusalTTL is how long the receipts of refused requests (409, 410) are
	// kept, at most TTL. A refusal changed nothing, so a retry after it is
	// safely judged afresh; and every buyer turned away in a storm leaves one.
	// Default 10m.
	RefusalTTL time.Duration
	// CacheTTL is how long markers keep a finished answer, to replay it without
	// the database. Most retries come within seconds; a long cache would only
	// fill Redis with keys that expire (which slows Redis's expiry of the keys
	// that matter, the holds'). Default 10m, at most TTL.
	CacheTTL time.Duration
	// LeaseTTL is how long a request may run before a retry of its key may run
	// too; a crashed instance's requests block retries no longer. The database
	// still lets only one of them take effect. A request with a deadline stops
	// at its deadline if that comes first. Default 10s.
	LeaseTTL time.Duration
	// Timeout, if set, is how long the request may run once its body is read,
	// if that is less than its lease: the deadline of a request that comes
	// without one. A keyed request runs on past its client hanging up, on a
	// context of its own, so a deadline the server set on the client's
	// context would be a second timer to the same end.
	Timeout func(r *http.Request) time.Duration
	// MarkerTimeout bounds each call to the markers; past it they count as
	// failed and the database answers alone. Markers only save work, so a
	// Redis that stops answering must cost a request no more than this.
	// Default 250ms.
	MarkerTimeout time.Duration
	Logger        *slog.Logger
}

// Middleware makes the handlers it wraps exactly-once per Idempotency-Key.
type Middleware struct {
	cfg     Config
	markers *breaker.Breaker
	// markerBound bounds each call to the markers by MarkerTimeout. Detached
	// from the request, whose deadline (the lease) is far later, and shared
	// by the calls of one moment: a timer each was a few per cent of seatd's
	// CPU in a storm.
	markerBound *deadline.Shared
	refusals    *batch.Queue[booking.Receipt, booking.Receipt] // nil without Config.Batch
	// background is the work that outlives a request's answer; Close waits
	// for it.
	background sync.WaitGroup
	stopBg     context.CancelFunc // ends bgCtx, which background work runs under
	bgCtx      context.Context
	closeMu    sync.RWMutex // held to start background work; locked by Close
	closed     bool
}

// New returns a Middleware.
func New(cfg Config) *Middleware {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.RefusalTTL <= 0 {
		cfg.RefusalTTL = 10 * time.Minute
	}
	cfg.RefusalTTL = min(cfg.RefusalTTL, cfg.TTL)
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Minute
	}
	cfg.CacheTTL = min(cfg.CacheTTL, cfg.TTL)
	if cfg.MarkerTimeout <= 0 {
		cfg.MarkerTimeout = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Middleware{cfg: cfg, markers: breaker.New("idempotency markers", time.Second, cfg.Logger), markerBound: deadline.New(cfg.MarkerTimeout)}
	m.bgCtx, m.stopBg = context.WithCancel(context.Background())
	if cfg.Batch != nil {
		m.refusals = newRefusals(cfg.Batch, cfg.RefusalTTL)
	}
	return m
}

// Close ends the work that requests left behind them and waits for it, and
// stops the group commit of refusals; requests still served afterwards store
// their answers alone. Call it once the HTTP server has stopped serving.
func (m *Middleware) Close() {
	m.closeMu.Lock()
	m.closed = true
	m.closeMu.Unlock()
	m.stopBg()
	m.background.Wait()
	if m.refusals != nil {
		m.refusals.Close()
	}
}

// goBackground runs f in a goroutine Close waits for, or, once the
// middleware is closed, before it returns.
func (m *Middleware) goBackground(f func()) {
	m.closeMu.RLock()
	defer m.closeMu.RUnlock()
	if m.closed {
		f()
		return
	}
	m.background.Go(f)
}

// deadline is when a request must end: at its lease's end, at its own
// deadline, or after its Timeout, whichever comes first.
func (m *Middleware) deadline(r *http.Request) time.Time {
	now := time.Now()
	deadline := now.Add(m.cfg.LeaseTTL)
	if d, ok := r.Context().Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if m.cfg.Timeout != nil {
		if d := now.Add(m.cfg.Timeout(r)); d.Before(deadline) {
			deadline = d
		}
	}
	return deadline
}

// pending is a keyed request being executed, as its handler sees it.
type pending struct {
	scope, key, fingerprint string
	ttl                     time.Duration
	body                    []byte                 // the request's, read whole
	rendered                atomic.Pointer[[]byte] // the answer the store wrote with the change
	// gateRefused: the change was refused at the gate on other users' seats
	// (booking.Idempotent.OnGateRefusal).
	gateRefused atomic.Bool
	// The key's claim (claim.go): by the middleware, under lease, once.
	m         *Middleware
	id, lease string
	claimMu   sync.Mutex
	taken     bool
	found     *Mark // another attempt's mark, which the claim found instead
}

type pendingKey struct{}

// Body returns the body of a keyed request as the middleware read it (the
// request's Body reads the same bytes again), and whether r is one.
func Body(r *http.Request) ([]byte, bool) {
	p, ok := r.Context().Value(pendingKey{}).(*pending)
	if !ok {
		return nil, false
	}
	return p.body, true
}

// For returns what a handler passes to a seat change so that the change stores
// its receipt in its own transaction: render turns the change's result into the
// answer the handler will give. Outside the middleware it returns nil.
func For(r *http.Request, render func(result any) (Response, error)) *booking.Idempotent {
	p, ok := r.Context().Value(pendingKey{}).(*pending)
	if !ok {
		return nil
	}
	return &booking.Idempotent{
		Scope: p.scope, Key: p.key, Fingerprint: p.fingerprint, TTL: p.ttl,
		Render: func(result any) ([]byte, error) {
			resp, err := render(result)
			if err != nil {
				return nil, err
			}
			b, err := resp.Encode()
			if err == nil {
				p.rendered.Store(&b)
			}
			return b, err
		},
		OnGateRefusal: func() { p.gateRefused.Store(true) },
		Claim:         p.claim,
	}
}

// Wrap returns next made exactly-once per key.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := ParseKey(r.Header.Values("Idempotency-Key"))
		if err != nil {
			m.cfg.Fail(w, r, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.cfg.MaxBodyBytes))
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); err != nil && !tooLarge {
			// The client hung up or stalled mid-body: its doing, not a
			// failure of the server's.
			err = fmt.Errorf("%w: %w", ErrBodyUnreadable, err)
		}
		if err != nil {
			m.cfg.Fail(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		scope, err := m.cfg.Scope(r, body)
		if err != nil {
			ctx, cancel := context.WithDeadline(r.Context(), m.deadline(r))
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		// Keys belong to a caller on a route; the fingerprint covers the path
		// itself, so a key reused for another hold's extension is caught.
		scope += " " + r.Pattern
		m.serve(w, r, next, &pending{scope: scope, key: key, fingerprint: Fingerprint(r.Method, r.URL.EscapedPath(), body), ttl: m.cfg.TTL, body: body})
	})
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler, p *pending) {
	// Once a keyed request starts, it runs to its end even if the client goes
	// away, so that its retry finds a receipt rather than a half-known
	// outcome; but no longer than its deadline.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(r.Context()), m.deadline(r))
	defer cancel()
	id := markerID(p.scope, p.key)
	lease := booking.NewID()
	p.m, p.id, p.lease = m, id, lease

	// The handler claims the key when its change is about to be made (Claim).
	// Markers forget (restarts, evictions, CacheTTL), so the database may hold
	// a receipt of this key from an earlier attempt; rather than look it up
	// before every request, the request runs and the receipts decide: a change
	// claims its receipt in its own transaction, which fails if an earlier one
	// exists (and the change is undone); any other answer is checked against
	// the receipts before it is sent.
	rec := newRecorder()
	next.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, pendingKey{}, p)))
	resp := rec.response()

	own := booking.Receipt{Scope: p.scope, Key: p.key, Fingerprint: p.fingerprint}
	rendered := p.rendered.Load()
	if rendered == nil {
		if !p.claimed() && resp.Status == http.StatusConflict && p.gateRefused.Load() && m.cfg.SharedMarkers {
			m.keepRefusal(ctx, w, r, p, resp, own)
			return
		}
		// Any other answer that committed no change is judged once the key
		// is claimed, if the handler did not claim it: an earlier attempt's
		// mark stands in its place.
		if found := p.take(); found != nil {
			m.answerMarked(ctx, w, r, p, *found)
			return
		}
	}

	var answer booking.Receipt
	var err error
	switch {
	case isSuccess(resp.Status) && rendered != nil:
		// Committed with the change: the stored answer is the one to send.
		own.Response = *rendered
		answer = own
	case isOutcome(resp.Status):
		// It ran and changed nothing (the seats were taken, the hold lapsed,
		// or an earlier attempt's receipt undid it), or it is a change that did
		// not commit its receipt with itself (a handler that forgot For). The
		// answer is stored before it is sent, unless an earlier one stands.
		if isSuccess(resp.Status) {
			m.cfg.Logger.Error("a keyed request succeeded without a receipt committed with its change", "scope", p.scope)
		}
		if own.Response, err = resp.Encode(); err == nil {
			answer, err = m.store(ctx, own, resp.Status)
		}
	default:
		// Rejected before it did anything, or failed: nothing to remember, and
		// a retry runs anew; unless an earlier attempt answered this key.
		// The request may have stopped at its deadline; the lookup gets a
		// moment of its own, for a change that committed just then.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lateLookup)
		earlier, lerr := m.cfg.Receipts.Receipt(lctx, p.scope, p.key)
		cancel()
		if lerr == nil {
			m.replay(w, r, p, earlier, true)
			m.afterAnswer(ctx, w, func() { m.complete(id, lease, earlier) })
			return
		}
		resp.Write(w, false)
		m.afterAnswer(ctx, w, func() { m.abandon(id, lease) })
		return
	}
	if err != nil {
		m.notRecorded(w, r, p, err)
		m.afterAnswer(ctx, w, func() { m.abandon(id, lease) })
		return
	}
	m.send(w, r, p, resp, own, answer)
	m.afterAnswer(ctx, w, func() { m.complete(id, lease, answer) })
}

// keepRefusal answers a request turned away at the gate by seats other users
// hold or bought, before it claimed its key. It changed nothing, and no
// earlier attempt of the key stands behind it (a seat of the user's own hold
// would): a retry after this answer is lost may be judged afresh. So the
// markers alone keep it, for RefusalTTL, in one call that takes the key and
// records the answer, and the database is spared a write per buyer turned
// away. An attempt of the key that marked it first answers instead; markers
// that fail leave the answer to the database after all.
func (m *Middleware) keepRefusal(ctx context.Context, w http.ResponseWriter, r *http.Request, p *pending, resp Response, own booking.Receipt) {
	var err error
	if own.Response, err = resp.Encode(); err == nil {
		if mark, ok := m.record(p.id, p.lease, own); ok {
			if mark.Claimed {
				resp.writeKept(w)
			} else {
				m.answerMarked(ctx, w, r, p, mark)
			}
			return
		}
		var answer booking.Receipt
		if answer, err = m.store(ctx, own, resp.Status); err == nil {
			m.send(w, r, p, resp, own, answer)
			m.afterAnswer(ctx, w, func() { m.complete(p.id, p.lease, answer) })
			return
		}
	}
	m.notRecorded(w, r, p, err)
}

// send answers with answer, the receipt that stands for the key now that own,
// the handler's answer resp, was stored.
func (m *Middleware) send(w http.ResponseWriter, r *http.Request, p *pending, resp Response, own, answer booking.Receipt) {
	switch {
	case answer.Fingerprint != p.fingerprint || !bytes.Equal(answer.Response, own.Response):
		// Another attempt stored its receipt first: its answer is the one, or,
		// if it asked something else under the key, a 422.
		m.replay(w, r, p, answer, true)
	case isSuccess(resp.Status) && p.rendered.Load() != nil:
		// A change's answer goes out exactly as its transaction stored it.
		m.replay(w, r, p, answer, false)
	default:
		// What was stored is resp itself, encoded: send what a replay would.
		resp.writeKept(w)
	}
}

// notRecorded answers a request whose answer could not be stored: the client
// must not hear an answer its retry could not get again.
func (m *Middleware) notRecorded(w http.ResponseWriter, r *http.Request, p *pending, err error) {
	m.cfg.Logger.Error("store idempotent answer", "scope", p.scope, "err", err)
	m.cfg.Fail(w, r, ErrNotRecorded)
}

// afterAnswer sends what was written to the client, then updates the marker.
// The marker is only a cache of what the database already holds, so the client
// need not wait for it: a retry that comes first finds the database's receipt.
func (m *Middleware) afterAnswer(ctx context.Context, w http.ResponseWriter, update func()) {
	http.NewResponseController(w).Flush()
	update()
}

// answerMarked answers a request whose key another attempt has marked.
func (m *Middleware) answerMarked(ctx context.Context, w http.ResponseWriter, r *http.Request, p *pending, mark Mark) {
	if mark.Response != nil {
		m.replay(w, r, p, booking.Receipt{Fingerprint: mark.Fingerprint, Response: mark.Response}, true)
		return
	}
	if mark.Fingerprint != p.fingerprint {
		m.cfg.Fail(w, r, ErrKeyReused)
		return
	}
	// In flight, says the marker; but its owner may have died after committing.
	stored, err := m.cfg.Receipts.Receipt(ctx, p.scope, p.key)
	switch {
	case err == nil:
		m.replay(w, r, p, stored, true)
	case errors.Is(err, booking.ErrNotFound):
		// The lease says when another attempt may take over; the request itself
		// is likely done long before, so the client is told to look again soon.
		m.cfg.Fail(w, r, &InUseError{RetryAfter: min(mark.LeaseLeft, time.Second)})
	default:
		m.cfg.Fail(w, r, err)
	}
}

// replay sends a stored answer, or 422 if it answered another request.
func (m *Middleware) replay(w http.ResponseWriter, r *http.Request, p *pending, stored booking.Receipt, replayed bool) {
	if stored.Fingerprint != p.fingerprint {
		m.cfg.Fail(w, r, ErrKeyReused)
		return
	}
	resp, err := DecodeResponse(stored.Response)
	if err != nil {
		m.cfg.Fail(w, r, err)
		return
	}
	resp.Write(w, replayed)
}

// store stores the answer of a request that ran and changed nothing, before
// it is sent, unless an earlier attempt's answer stands; and returns the
// answer that stands. Refusals are kept for RefusalTTL.
func (m *Middleware) store(ctx context.Context, r booking.Receipt, status int) (booking.Receipt, error) {
	if status == http.StatusConflict || status == http.StatusGone {
		return m.saveRefusal(ctx, r)
	}
	return m.cfg.Receipts.SaveReceipt(ctx, r, m.cfg.TTL)
}

// lateLookup bounds the receipt lookup of a request that failed, which may
// have reached its deadline already.
const lateLookup = 250 * time.Millisecond

// isRefusal reports whether a stored answer is a 409 or 410.
func isRefusal(stored []byte) bool {
	return bytes.HasPrefix(stored, []byte("409\n")) || bytes.HasPrefix(stored, []byte("410\n"))
}

// isSuccess: the request did what it asked.
func isSuccess(status int) bool { return status >= 200 && status < 300 }

// isOutcome: the request ran and its answer is final, to be replayed to retries.
// 409 and 410 are outcomes of running it (the seats were taken, the hold had
// lapsed); other 4xx reject a request before it runs, and 5xx are failures a
// retry should get past.
func isOutcome(status int) bool {
	return isSuccess(status) || status == http.StatusConflict || status == http.StatusGone
}
