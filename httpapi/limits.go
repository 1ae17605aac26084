package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"seatmanager/booking"
	"seatmanager/ratelimit"
)

// Limiter takes one request from a key's token bucket: ratelimit.Local in
// process, or Redis (shared by every instance) behind a breaker that falls
// back to one in process.
type Limiter interface {
	Allow(ctx context.Context, key string, lim ratelimit.Limit) (ratelimit.Decision, error)
}

// Limits are the rate limits of the API; a zero Limit is none. No limit
// touches the seat maps, the live sockets or the health checks: a flood by
// one client never stops others from seeing seats.
type Limits struct {
	// PerUser bounds each user's seat changes (hold, book, release, extend).
	PerUser ratelimit.Limit
	// PerAddress bounds the seat changes from each client address.
	PerAddress ratelimit.Limit
	// Sessions bounds the guest sessions each client address may open.
	Sessions ratelimit.Limit
}

// limiterTimeout bounds a call to a shared limiter, as the gate's and the
// markers' are bounded: a stalled Redis costs a request this once, then its
// breaker answers from the limiter in process.
const limiterTimeout = 250 * time.Millisecond

// limitError is a request over a rate limit: answered 429 with Retry-After.
type limitError struct {
	what       string // whose limit: "user", "address", "sessions"
	limit      ratelimit.Limit
	retryAfter time.Duration
}

func (e *limitError) Error() string {
	return "too many requests: the " + e.what + " limit is " + e.limit.String() + "; retry after the Retry-After seconds"
}

// limit takes one request of key from the bucket of lim, or returns a
// *limitError. A limiter that fails lets the request through: limits protect
// the service, and must never be the outage.
func (s *Server) limit(r *http.Request, what, key string, lim ratelimit.Limit) error {
	if s.limiter == nil || lim.Rate == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), limiterTimeout)
	defer cancel()
	d, err := s.limiter.Allow(ctx, what+":"+key, lim)
	if err != nil {
		s.log.Debug("rate limiter failed; request let through", "limit", what, "err", err)
		return nil
	}
	if !d.Allowed {
		return &limitError{what: what, limit: lim, retryAfter: d.RetryAfter}
	}
	return nil
}

// limitUser takes a seat change from the bucket of its caller: the token's
// subject, or with authentication off the body's userId (read here, and put
// back for the handler).
func (s *Server) limitUser(r *http.Request) error {
	if s.limits.PerUser.Rate == 0 {
		return nil
	}
	if c, ok := claims(r); ok {
		return s.limit(r, "user", c.UserID, s.limits.PerUser)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	var who struct {
		UserID string `json:"userId"`
	}
	if json.Unmarshal(body, &who) != nil || !booking.ValidUserID(who.UserID) {
		return nil // the handler answers what is wrong with the body; no key from it
	}
	return s.limit(r, "user", who.UserID, s.limits.PerUser)
}
