// Command seatd is the Movie Seat Manager server. With no configuration it runs
// on a SQLite file with an in-process gate and demo shows; given a PostgreSQL URL
// and a Redis URL it runs as one of any number of instances sharing them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"seatmanager/booking"
	"seatmanager/expiry"
	"seatmanager/httpapi"
	"seatmanager/idempotency"
	"seatmanager/internal/breaker"
	"seatmanager/internal/inflight"
	"seatmanager/live"
	"seatmanager/metrics"
	"seatmanager/redis"
)

// gcPercent is seatd's GOGC unless the environment sets one. Its live heap is
// small and its garbage is per request, so at Go's default of 100 a storm spent
// 15 % of seatd's CPU collecting; 200 cut seatd's CPU per storm request by
// 13 %, and 400 gained nothing more.
const gcPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	err := run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "seatd:", err)
		os.Exit(1)
	}
}

// run is the whole server: it returns when ctx is done or a signal arrives, after
// in-flight requests have finished (or the shutdown timeout passed). env is
// the environment, as os.Environ gives it. Once it serves, run writes the URL
// of the web page as one line to stdout; its log goes to stderr.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := parseConfig(args, env, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	for _, name := range cfg.UnknownEnv {
		log.Warn("environment variable not known to seatd; a typo?", "name", name)
	}
	if len(cfg.Args) > 0 {
		return runCommand(ctx, cfg, stdout, log)
	}
	// go-redis logs through a package-level logger of its own.
	redis.LogTo(log)

	// What can fail without touching the database is done first: a bad
	// address must not leave a database created and seeded behind.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	m := metrics.New()
	ops, err := listenOps(cfg, m.Handler())
	if err != nil {
		return err
	}
	defer closeOps(ops)
	acc, err := openAccelerators(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer acc.close()
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.Demo {
		if err := seedDemo(ctx, store, time.Now(), cfg.DemoShows, cfg.DemoReset, log); err != nil {
			return err
		}
	}

	verifier, issuer, err := openAuth(ctx, cfg, store, log)
	if err != nil {
		return err
	}

	// While more seat changes are in flight than there are cores, and for a
	// moment after (a storm's waves of buyers come a millisecond apart), the
	// live seat maps wait, up to LiveYield: the buyers are answered first.
	changes := inflight.New(runtime.GOMAXPROCS(0), 20*time.Millisecond)
	var busy func() <-chan struct{}
	if cfg.LiveYield > 0 {
		busy = changes.Busy
	}
	hub := live.New(live.Config{
		Busy: busy, Yield: cfg.LiveYield,
		Log: store, PollInterval: cfg.LivePoll, OriginPatterns: cfg.AllowedOrigins, MaxSockets: cfg.MaxSockets, Logger: log,
		Observer: live.Observer{SocketOpened: m.SocketOpened, SocketClosed: m.SocketClosed, FrameSent: m.FrameSent, Coalesced: m.Coalesced},
	})
	remote, listen := changeNotices(acc, store, log)
	announce := live.NewAnnouncer(hub, remote, log)
	// Lapsed holds are released by expiry notices (Redis events, or in-process
	// timers) and by the sweep; timers also retry notices that came early.
	worker := &expiry.Worker{Store: store, SweepInterval: cfg.SweepInterval, OnRelease: m.HoldReleased, OnChange: announce.Changed, Logger: log}
	timers := expiry.NewTimers(func(_ context.Context, token string) {
		worker.Notify(token, booking.ReleasedByTimer)
	})
	worker.Retry = timers
	var sched booking.Scheduler = timers
	if acc.holdKeys != nil {
		sched = expiry.Both{timers, breaker.Scheduler{Scheduler: acc.holdKeys, Breaker: breaker.New("redis hold keys", time.Second, log)}}
		acc.listener.Expired = func(_ context.Context, token string) {
			worker.Notify(token, booking.ReleasedByEvent)
		}
	}
	gate := acc.gate
	if !cfg.Gate {
		gate = nil
	}
	svc := booking.NewService(store, gate, sched, booking.Config{
		HoldTTL: cfg.HoldTTL, MaxSeats: cfg.MaxSeats, MaxExtensions: cfg.MaxExtensions, MaxHeldPerUser: cfg.MaxHeldPerUser,
		MaxShowSeats: cfg.MaxShowSeats,
		Logger:       log, OnRelease: m.HoldReleased, OnRepair: m.GateRepaired, OnChange: announce.Changed,
	})
	apiCfg := httpapi.Config{
		Ready: store.Ping, Logger: log, RequestTimeout: cfg.RequestTimeout,
		Receipts: store, Markers: acc.markers, SharedMarkers: cfg.UsesRedis(), IdempotencyTTL: cfg.IdempotencyTTL, RefusalTTL: cfg.RefusalTTL,
		Live: hub, InFlight: changes, ObserveRequest: m.ObserveRequest,
		Limiter: acc.limiter, Limits: httpapi.Limits{PerUser: cfg.RateUser, PerAddress: cfg.RateAddress, Sessions: cfg.RateSessions},
		TrustedProxies: cfg.TrustedProxies, MaxInFlight: cfg.MaxRequests, CORSOrigins: cfg.CORSOrigins,
	}
	if verifier != nil { // a nil *Verifier in the interface would not be nil
		apiCfg.Auth = verifier
	}
	if issuer != nil {
		apiCfg.Sessions = issuer
	}
	if cfg.MetricsAddr == "" {
		apiCfg.Metrics = m.Handler()
	}
	api := httpapi.NewServer(svc, apiCfg)
	srv := newHTTPServer(api, cfg.RequestTimeout, log)
	log.Info("seatd listening", "addr", ln.Addr().String(), "url", pageURL(ln.Addr()),
		"store", storeName(cfg), "accelerators", acceleratorsName(cfg), "hold_ttl", cfg.HoldTTL)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return (&idempotency.Sweeper{Store: store, Logger: log}).Run(gctx) })
	g.Go(func() error { return worker.Run(gctx) })
	g.Go(func() error { return timers.Run(gctx) })
	g.Go(func() error { return announce.Run(gctx) })
	g.Go(func() error {
		return (&live.Pruner{Store: store, Retention: cfg.EventRetention, Logger: log}).Run(gctx)
	})
	if listen != nil {
		g.Go(func() error { return listen(gctx, hub.Wake) })
	}
	if acc.listener != nil {
		g.Go(func() error { return acc.listener.Run(gctx) })
		g.Go(func() error { acc.holdKeys.Reap(gctx, reapInterval, log); return nil })
	}
	for _, o := range ops {
		g.Go(func() error { return serveOps(gctx, o, log) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("seatd shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		// The sockets, which Shutdown does not wait for, go once the other
		// requests have finished.
		hub.Close()
		api.Close()
		return err
	})
	fmt.Fprintln(stdout, pageURL(ln.Addr()))
	return g.Wait()
}

// newHTTPServer bounds what a client may cost the server: the time to send
// its headers (slowloris) and its request, the time its answer may take to
// be written, how long an idle connection is kept, and the size of its
// headers. Sockets are exempt from the read and write timeouts: net/http
// clears a connection's deadlines when a socket takes it over.
func newHTTPServer(h http.Handler, requestTimeout time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// A client may not trickle a body for ever; 64 KiB take no time to send.
		ReadTimeout: 30 * time.Second,
		// A request is answered within its timeout; a client that does not
		// take the answer is not waited for much longer.
		WriteTimeout:   requestTimeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 32 << 10, // a bearer token is at most 4 KiB
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// pageURL is where a person on this machine finds the web page.
func pageURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
