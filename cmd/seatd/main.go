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
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/idempotency"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
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
// in-flight requests have finished (or the shutdown timeout passed).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	acc, err := openAccelerators(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer acc.close()
	if cfg.Demo {
		if err := seedDemo(ctx, store, time.Now(), log); err != nil {
			return err
		}
	}

	svc := booking.NewService(store, store, acc.gate, booking.Config{
		HoldTTL: cfg.HoldTTL, MaxSeats: cfg.MaxSeats, Logger: log,
	})
	api := httpapi.NewServer(svc, httpapi.Config{
		Ready: store.Ping, Logger: log,
		Receipts: store, Markers: acc.markers, IdempotencyTTL: cfg.IdempotencyTTL,
	})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("seatd listening", "addr", ln.Addr().String(), "url", pageURL(ln.Addr()),
		"store", storeName(cfg), "accelerators", acceleratorsName(cfg), "hold_ttl", cfg.HoldTTL)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return (&idempotency.Sweeper{Store: store, Logger: log}).Run(gctx)
	})
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
		return srv.Shutdown(sctx)
	})
	return g.Wait()
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
