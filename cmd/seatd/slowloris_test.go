package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readHeaderTimeout is newHTTPServer's ReadHeaderTimeout: how long seatd
// lets a connection take to send its request's headers.
const readHeaderTimeout = 5 * time.Second

// TestSlowlorisAndIdleConnections: 300 connections trickling their headers a
// byte a second and 5000 that send nothing do not keep a normal client from
// holding and booking, and seatd drops the trickling ones once their
// ReadHeaderTimeout has passed.
func TestSlowlorisAndIdleConnections(t *testing.T) {
	const (
		slowConns = 300
		idleConns = 5000
		// A loaded machine with the race detector may be late to notice a
		// deadline and to schedule the reader that sees the close.
		closeMargin = 3 * time.Second
	)
	// In process, both ends of each connection are this process's: about
	// 10,600 descriptors, within `ulimit -n` (about 20,000).
	s := startSeatd(t, map[string]string{"SEATD_DATABASE_URL": filepath.Join(t.TempDir(), "seatd.db")})
	addr := strings.TrimPrefix(s.url, "http://")
	c := newClient(t, s.url)
	_, m := c.firstShow(t)

	// holdAndBook is the normal client's purchase, on a new connection each
	// time so that the figure under siege includes being accepted.
	holdAndBook := func(user string, seats ...string) time.Duration {
		t.Helper()
		c.http.CloseIdleConnections()
		start := time.Now()
		h := c.hold(t, user, seats...)
		c.mustCall(t, "POST", "/api/seats/book-bulk", map[string]any{"seatIds": seats, "userId": user, "holdToken": h.HoldToken}, 200, nil)
		return time.Since(start)
	}
	calm := holdAndBook("calm", m.Seats[0].ID, m.Seats[1].ID)

	// Every hostile connection is closed, and every reader waited for, before
	// seatd stops (cleanups run last-registered first).
	var readers sync.WaitGroup
	t.Cleanup(readers.Wait)
	var conns []net.Conn
	t.Cleanup(func() {
		for _, conn := range conns {
			conn.Close()
		}
	})

	firstDial := time.Now()
	slow, dialed := dialMany(t, addr, slowConns)
	conns = append(conns, slow...)
	type outcome struct {
		closed time.Time // zero if still open at the deadline
		err    error
	}
	outcomes := make([]outcome, slowConns)
	for i, conn := range slow {
		readers.Go(func() {
			closed, err := trickle(conn, dialed[i].Add(readHeaderTimeout+closeMargin))
			outcomes[i] = outcome{closed: closed, err: err}
		})
	}
	idle, _ := dialMany(t, addr, idleConns)
	conns = append(conns, idle...)
	opened := time.Since(firstDial)

	besieged := holdAndBook("besieged", m.Seats[2].ID, m.Seats[3].ID)
	measured := time.Now()
	t.Logf("hold+book: %v calm, %v with %d slowloris and %d idle connections open (opened in %v)",
		calm, besieged, slowConns, idleConns, opened)
	// seatd's header deadline for a connection starts once it has accepted
	// it, after our dial: the connections were all still open during the
	// measurement only if it ended within ReadHeaderTimeout of the first dial.
	if since := measured.Sub(firstDial); since >= readHeaderTimeout {
		t.Fatalf("the measurement ended %v after the first hostile connection was opened, want within %v (ReadHeaderTimeout): the hostile connections may have been closed already",
			since, readHeaderTimeout)
	}
	// With -race on a shared machine the calm figure is a few milliseconds
	// and jitters by several times from run to run; ten times it absorbs
	// that noise, and the floor of 1s keeps a tiny baseline from making the
	// bound tighter than the scheduler. What it must catch stays far above:
	// a server that makes new clients wait behind the hostile connections
	// costs them ReadHeaderTimeout (5s), or their request.
	if bound := max(time.Second, 10*calm); besieged > bound {
		t.Errorf("hold+book took %v with the hostile connections open, want at most %v (10× the calm %v, at least 1s)", besieged, bound, calm)
	}

	readers.Wait()
	var earliest, latest time.Duration
	for i, o := range outcomes {
		switch {
		case o.err != nil:
			t.Errorf("slowloris connection %d: %v", i, o.err)
			continue
		case o.closed.IsZero():
			t.Errorf("slowloris connection %d: still open %v after it was opened, want it closed by then (ReadHeaderTimeout %v + %v)",
				i, readHeaderTimeout+closeMargin, readHeaderTimeout, closeMargin)
			continue
		case o.closed.Before(measured):
			t.Errorf("slowloris connection %d: closed %v after it was opened, before the normal client was measured: want it kept until ReadHeaderTimeout",
				i, o.closed.Sub(dialed[i]))
		}
		d := o.closed.Sub(dialed[i])
		if earliest == 0 || d < earliest {
			earliest = d
		}
		latest = max(latest, d)
	}
	t.Logf("slowloris connections closed by seatd %v to %v after they were opened (ReadHeaderTimeout %v)", earliest, latest, readHeaderTimeout)
}

// dialMany opens n TCP connections to addr, a few dozen dials at a time, and
// returns them with when each dial began: the server's deadlines for a
// connection start after that.
func dialMany(t *testing.T, addr string, n int) ([]net.Conn, []time.Time) {
	t.Helper()
	conns := make([]net.Conn, n)
	dialed := make([]time.Time, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	d := net.Dialer{Timeout: 10 * time.Second}
	for range 64 {
		wg.Go(func() {
			for i := range next {
				dialed[i] = time.Now()
				conns[i], errs[i] = d.DialContext(t.Context(), "tcp", addr)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var opened int
		for _, conn := range conns {
			if conn != nil {
				opened++
				conn.Close()
			}
		}
		t.Fatalf("opened %d of %d connections to %s: %.500v", opened, n, addr, err)
	}
	return conns, dialed
}

// trickle is a slowloris client: it sends a request line and then one
// header byte a second, never ending the headers, until the server closes
// the connection or the deadline passes. It returns when the server closed
// it, or the zero time if it was still open at the deadline.
func trickle(conn net.Conn, deadline time.Time) (time.Time, error) {
	if _, err := io.WriteString(conn, "GET /api/seats/shows HTTP/1.1\r\nHost: seatd\r\nX-Slowloris: "); err != nil {
		return time.Time{}, fmt.Errorf("write the request line: %w", err)
	}
	buf := make([]byte, 512)
	for {
		// The read waits for the server's close and paces the trickle.
		next := time.Now().Add(time.Second)
		if next.After(deadline) {
			next = deadline
		}
		conn.SetReadDeadline(next)
		_, err := conn.Read(buf) // whatever seatd might say before closing is read and let go
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			if !time.Now().Before(deadline) {
				return time.Time{}, nil
			}
			if _, err := io.WriteString(conn, "a"); err != nil {
				return time.Now(), nil // reset: the server closed it
			}
		default:
			return time.Now(), nil // EOF or reset: the server closed it
		}
	}
}
