package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"seatmanager/booking"
)

// The routes seatload records, in the order the summary lists them.
const (
	routeShows   = "shows"
	routeSeatMap = "seatmap"
	routeHold    = "hold"
	routeBook    = "book"
	routeRelease = "release"
	routeHello   = "hello"
)

const (
	pathShows   = "/api/seats/shows"
	pathHold    = "/api/seats/hold-bulk"
	pathBook    = "/api/seats/book-bulk"
	pathRelease = "/api/seats/release-bulk"
)

// requestTimeout bounds every request. It is generous: under a storm on two
// cores a correct answer may take seconds, and only a hung request should fail.
const requestTimeout = 30 * time.Second

// client talks to one seatd. One client, and so one connection pool, is shared by
// all virtual users of a run, as one load-generator host would be.
type client struct {
	base string
	http *http.Client
}

// newClient returns a client whose pool keeps up to conns connections alive, so
// that every virtual user can have a request in flight on its own connection and
// none pays for a new TCP connection after the first request.
func newClient(base string, conns int) *client {
	tr := &http.Transport{
		// No proxy from the environment: a proxy would measure itself.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   requestTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
		// seatd's JSON answers are small; compressing them would cost both sides CPU.
		DisableCompression: true,
	}
	return &client{
		base: strings.TrimRight(base, "/"),
		http: &http.Client{Transport: tr, Timeout: requestTimeout},
	}
}

// close drops the idle connections, so that seatd does not keep them open.
func (c *client) close() { c.http.CloseIdleConnections() }

// problem is the part of an RFC 9457 problem+json answer seatload looks at.
type problem struct {
	Type               string   `json:"type"`
	Title              string   `json:"title"`
	Detail             string   `json:"detail"`
	ConflictingSeatIDs []string `json:"conflictingSeatIds"`
}

// is reports whether the problem has the given slug (its type is /problems/{slug}).
func (p *problem) is(slug string) bool {
	return p != nil && strings.HasSuffix(p.Type, "/"+slug)
}

// answer is what one request got.
type answer struct {
	status  int      // 0 when no answer arrived
	problem *problem // the body of an error answer, when it was problem+json
	err     error    // no answer (transport error), or a success body that did not decode
	body    string   // the start of an error answer, for messages
}

// ok reports whether the request succeeded and its body decoded.
func (a answer) ok() bool { return a.status == http.StatusOK && a.err == nil }

// unknown reports whether the request's effect is unknown: it may or may not have
// happened on the server.
func (a answer) unknown() bool {
	return a.status == 0 || a.status >= 500 || (a.status == http.StatusOK && a.err != nil)
}

// refusedCaller reports whether seatd refused the caller rather than the
// seats: no token it accepts (401), a body naming another user (403), or a
// rate limit (429). Nothing changed, and no scenario expects one.
func (a answer) refusedCaller() bool {
	return a.status == http.StatusUnauthorized || a.status == http.StatusForbidden || a.status == http.StatusTooManyRequests
}

// String describes the answer for failure messages.
func (a answer) String() string {
	switch {
	case a.status == 0:
		return fmt.Sprintf("no answer: %v", a.err)
	case a.err != nil:
		return fmt.Sprintf("%d with a body that does not decode: %v", a.status, a.err)
	case a.problem != nil && a.problem.Detail != "":
		return fmt.Sprintf("%d %s: %s", a.status, a.problem.Type, a.problem.Detail)
	case a.problem != nil:
		return fmt.Sprintf("%d %s", a.status, a.problem.Type)
	default:
		return fmt.Sprintf("%d %s", a.status, a.body)
	}
}

// get sends a GET, as nobody in particular, and decodes a 200 answer into out.
func (c *client) get(ctx context.Context, rec *recorder, route, path string, out any) answer {
	return c.do(ctx, rec, route, http.MethodGet, path, nil, nil, out)
}

// post sends in as JSON on behalf of as, with its bearer token and a fresh
// Idempotency-Key, as a client does for each new intended action, and decodes
// a 200 answer into out. The body's userId, if any, must be as.id.
func (c *client) post(ctx context.Context, rec *recorder, route, path string, as *user, in, out any) answer {
	return c.do(ctx, rec, route, http.MethodPost, path, as, in, out)
}

// do sends one request (with as's bearer token, unless as is nil) and records
// its status and latency in rec (if not nil), and decodes a 200 or 201 answer
// into out. The latency runs until the whole
// body is read: that is when a client can act. Transport errors and 5xx
// answers are recorded as failures here, since no scenario expects them;
// whether another status is expected is the caller's call (none expects a 401,
// 403 or 429: each is a failure).
func (c *client) do(ctx context.Context, rec *recorder, route, method, path string, as *user, in, out any) answer {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			panic(fmt.Sprintf("seatload: encode %T: %v", in, err)) // our own request types always encode
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		a := answer{err: err}
		rec.fail(failTransport, route, a.String())
		return a
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		req.Header.Set("Idempotency-Key", booking.NewID())
	}
	if as != nil {
		req.Header.Set("Authorization", "Bearer "+as.token)
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		a := answer{err: err}
		rec.add(route, 0, time.Since(start))
		rec.fail(failTransport, route, a.String())
		return a
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	latency := time.Since(start)
	a := answer{status: resp.StatusCode}
	if err != nil {
		// The status arrived but the body did not: as good as no answer.
		a = answer{err: fmt.Errorf("read %d answer: %w", resp.StatusCode, err)}
		rec.add(route, 0, latency)
		rec.fail(failTransport, route, a.String())
		return a
	}
	rec.add(route, resp.StatusCode, latency)

	// 200 for seat changes, 201 for a show made: a success body either way.
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				a.err = err
				rec.fail(failUnexpected, route, a.String())
			}
		}
		return a
	}
	a = errorAnswer(resp, data)
	if resp.StatusCode >= 500 {
		rec.fail(failServer, route, a.String())
		rec.serverProblem(a.problem)
	}
	return a
}

// errorAnswer is the answer of a request that did not succeed, with the start
// of its body and, when it is problem+json, the problem.
func errorAnswer(resp *http.Response, data []byte) answer {
	a := answer{status: resp.StatusCode, body: strings.TrimSpace(string(data[:min(len(data), 200)]))}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p problem
		if json.Unmarshal(data, &p) == nil {
			a.problem = &p
		}
	}
	return a
}

// warm opens n connections before a storm, by n simultaneous health checks, so
// that the storm's latencies are those of seatd and not of n TCP handshakes
// queueing in the listen backlog.
func (c *client) warm(ctx context.Context, n int) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if a := c.get(ctx, nil, "healthz", "/healthz", nil); a.status != http.StatusOK {
				errs[i] = fmt.Errorf("warm-up GET /healthz: %v", a)
			}
		})
	}
	close(start)
	wg.Wait()
	return errors.Join(errs...)
}
