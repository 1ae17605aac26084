// Package metrics exposes seatd's Prometheus metrics: HTTP requests by route,
// and the release of lapsed holds by path with its delay after expiry.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds seatd's collectors in a registry of its own, so that two
// servers in one process (tests) never collide on registration.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	holds        *prometheus.CounterVec
	seats        *prometheus.CounterVec
	releaseDelay *prometheus.HistogramVec
	repairs      prometheus.Counter
	sockets      prometheus.Gauge
	closes       *prometheus.CounterVec
	frames       prometheus.Counter
	events       prometheus.Counter
	coalesced    prometheus.Counter
	fanoutDelay  prometheus.Histogram
}

// New returns the metrics, with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatd_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern, method and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
		}, []string{"route", "method", "status"}),
		holds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatd_lapsed_holds_released_total",
			Help: "Lapsed holds released, by path: event (Redis keyspace), timer (in process), sweeper, lazy (taken over by a new hold).",
		}, []string{"path"}),
		seats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatd_lapsed_seats_released_total",
			Help: "Seats of lapsed holds returned to sale, by path.",
		}, []string{"path"}),
		releaseDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatd_hold_release_delay_seconds",
			Help:    "Time from a hold's expiry to the release of its seats, by path (database clock).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1 ms to 16 s
		}, []string{"path"}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "seatd_gate_claims_repaired_total",
			Help: "Seat gate claims removed because the database called their seats free (left by requests that failed or died).",
		}),
	}
	m.sockets = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "seatd_live_sockets", Help: "Open live seat-map sockets.",
	})
	m.closes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seatd_live_socket_closes_total",
		Help: "Live sockets closed, by why: client, slow (a frame not taken in time), shutdown, error.",
	}, []string{"why"})
	m.frames = prometheus.NewCounter(prometheus.CounterOpts{Name: "seatd_live_frames_total", Help: "Frames written to live sockets."})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "seatd_live_events_total", Help: "Seat events written to live sockets."})
	m.coalesced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "seatd_live_coalesced_total", Help: "Viewers that fell behind and got a snapshot instead of the events they missed.",
	})
	m.fanoutDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "seatd_live_fanout_delay_seconds",
		Help:    "Time from a seat change's commit to its frame's write to a socket.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
	})
	m.reg.MustRegister(m.requests, m.holds, m.seats, m.releaseDelay, m.repairs,
		m.sockets, m.closes, m.frames, m.events, m.coalesced, m.fanoutDelay,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one answered request. Its labels come from closed
// sets, so that no client can grow the number of series: route is the matched
// pattern (never the raw path), method one of the methods HTTP defines (any
// other is "other"), and status a code the server itself chose.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, methodLabel(method), strconv.Itoa(status)).Observe(d.Seconds())
}

// methodLabel is method if HTTP defines it, else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// SocketOpened counts a live socket in.
func (m *Metrics) SocketOpened() { m.sockets.Inc() }

// SocketClosed counts a live socket out, and why it closed.
func (m *Metrics) SocketClosed(why string) {
	m.sockets.Dec()
	switch why {
	case "client", "slow", "shutdown", "error":
	default:
		why = "other"
	}
	m.closes.WithLabelValues(why).Inc()
}

// FrameSent records a frame written to a socket: its events, and the delay
// from the newest one's commit (not observed for a snapshot).
func (m *Metrics) FrameSent(events int, delay time.Duration) {
	m.frames.Inc()
	if events > 0 {
		m.events.Add(float64(events))
		m.fanoutDelay.Observe(max(delay, 0).Seconds())
	}
}

// Coalesced counts a viewer that fell behind and got a snapshot.
func (m *Metrics) Coalesced() { m.coalesced.Inc() }

// GateRepaired records gate claims removed because the database contradicted them.
func (m *Metrics) GateRepaired(claims int) { m.repairs.Add(float64(claims)) }

// HoldReleased records a lapsed hold's release; it is a booking.ReleaseFunc.
func (m *Metrics) HoldReleased(path string, seats int, delay time.Duration) {
	m.holds.WithLabelValues(path).Inc()
	m.seats.WithLabelValues(path).Add(float64(seats))
	m.releaseDelay.WithLabelValues(path).Observe(max(delay, 0).Seconds())
}
