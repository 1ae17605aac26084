package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"seatmanager/auth"
)

const pathSessions = "/api/sessions"

// user is one of seatload's users as seatd knows it: seatd lets only a
// caller with a bearer token change seats, and only as the user the token
// names.
type user struct {
	name  string // seatload's own name for it, in messages and the ledger
	id    string // the userId seatd knows it by, sent in bodies
	token string // the bearer token that proves id
}

// signedTokenTTL is how long the tokens seatload signs itself are valid: longer
// than any run, which needs no token renewed on the way.
const signedTokenTTL = 24 * time.Hour

const (
	// sessionsAtOnce bounds the guest sessions opened at once: a storm's 500
	// at once would be a storm of their own, which the run does not measure.
	sessionsAtOnce = 16
	// sessionRetries bounds the retries of a session refused with 429 or 503.
	sessionRetries = 3
	// maxSessionWait is the longest Retry-After a session waits for; a seatd
	// that asks for longer has no sessions left for this address for a while
	// (SEATD_RATE_SESSIONS is per hour), and the run fails at once.
	maxSessionWait = 10 * time.Second
)

// newRunID returns a short random id that makes a run's user names its own:
// two runs against one seatd then never share a user (its rate limit, the
// seats it holds), whether their tokens are signed or opened as sessions.
func newRunID() string { return strings.ToLower(rand.Text()[:8]) }

// userNames returns n names prefix-run-1 … prefix-run-n.
func userNames(prefix, run string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%s-%d", prefix, run, i+1)
	}
	return names
}

// login makes a user seatd knows of each name, before a run is timed. With a
// secret (seatd's SEATD_AUTH_SECRET) it signs each a token whose subject is
// its name, without a request; without one it opens a guest session for each
// (POST /api/sessions), a few at a time, and the user is the guest seatd made.
func (c *client) login(ctx context.Context, secret string, names []string) ([]*user, error) {
	users := make([]*user, len(names))
	if secret != "" {
		issuer := auth.NewIssuer([]byte(secret), signedTokenTTL)
		for i, name := range names {
			token, _, err := issuer.Issue(name)
			if err != nil {
				return nil, fmt.Errorf("sign a token for %s: %w", name, err)
			}
			users[i] = &user{name: name, id: name, token: token}
		}
		return users, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sessionsAtOnce)
	for i, name := range names {
		g.Go(func() error {
			s, err := c.openSession(gctx)
			if err != nil {
				return fmt.Errorf("open guest session %d of %d (or sign tokens with -auth-secret, seatd's SEATD_AUTH_SECRET): %w", i+1, len(names), err)
			}
			users[i] = &user{name: name, id: s.UserID, token: s.Token}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return users, nil
}

// session is the answer of POST /api/sessions.
type session struct {
	Token     string    `json:"token"`
	UserID    string    `json:"userId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// openSession opens one guest session. It sends no body and no
// Idempotency-Key, as seatd asks: a retry just makes another guest. A 429 (the
// sessions rate limit) or a 503 is retried after its Retry-After, a few times.
func (c *client) openSession(ctx context.Context) (session, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+pathSessions, nil)
		if err != nil {
			return session{}, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return session{}, fmt.Errorf("POST %s: no answer: %w", pathSessions, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return session{}, fmt.Errorf("POST %s: read %d answer: %w", pathSessions, resp.StatusCode, err)
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			var s session
			if err := json.Unmarshal(data, &s); err != nil {
				return s, fmt.Errorf("POST %s: 201 with a body that does not decode: %w", pathSessions, err)
			}
			if s.Token == "" || s.UserID == "" {
				return s, fmt.Errorf("POST %s: 201 without a token and a userId: %.200s", pathSessions, data)
			}
			return s, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			a := errorAnswer(resp, data)
			wait := retryAfter(resp.Header.Get("Retry-After"))
			switch {
			case attempt == sessionRetries:
				return session{}, fmt.Errorf("POST %s: still %v after %d retries: this address may open no more guest sessions for now (seatd's SEATD_RATE_SESSIONS)", pathSessions, a, sessionRetries)
			case wait > maxSessionWait:
				return session{}, fmt.Errorf("POST %s: %v, Retry-After %s: this address may open no more guest sessions for a while (seatd's SEATD_RATE_SESSIONS)", pathSessions, a, wait)
			}
			select {
			case <-ctx.Done():
				return session{}, context.Cause(ctx)
			case <-time.After(wait):
			}
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return session{}, fmt.Errorf("POST %s: %v: this seatd opens no guest sessions (SEATD_AUTH_GUESTS=false, or SEATD_AUTH=off)", pathSessions, errorAnswer(resp, data))
		default:
			return session{}, fmt.Errorf("POST %s: %v", pathSessions, errorAnswer(resp, data))
		}
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date. Without a
// usable one, a second.
func retryAfter(h string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return time.Second
}

// standIn returns a user whose token is shaped as a guest session's (a guest
// id for subject, signed with HS256) but signed with a secret nobody knows:
// calibrate's hello-world server sends the same Authorization header as the
// scenarios do to seatd, so that both are measured with the same request size.
func standIn() *user {
	id := auth.NewGuestID()
	token, _, err := auth.NewIssuer(auth.NewSecret(), signedTokenTTL).Issue(id)
	if err != nil {
		panic(fmt.Sprintf("seatload: sign a stand-in token: %v", err)) // HS256 with a fresh secret always signs
	}
	return &user{name: "calibrate", id: id, token: token}
}
