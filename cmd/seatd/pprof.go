package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// opsServer is an address that serves what operators use and the public must
// not reach: /metrics (SEATD_METRICS_ADDR), the profiler (SEATD_PPROF_ADDR),
// or both on one address.
type opsServer struct {
	addr string
	mux  *http.ServeMux
}

// opsServers returns the operators' addresses that are set, with what each
// serves.
func opsServers(cfg Config, metrics http.Handler) []opsServer {
	var out []opsServer
	at := func(addr string) *http.ServeMux {
		for _, o := range out {
			if o.addr == addr {
				return o.mux
			}
		}
		out = append(out, opsServer{addr: addr, mux: http.NewServeMux()})
		return out[len(out)-1].mux
	}
	if cfg.MetricsAddr != "" {
		at(cfg.MetricsAddr).Handle("GET /metrics", metrics)
	}
	if cfg.PprofAddr != "" {
		// The profiler shows internals and lets anyone burn CPU: opt-in, and
		// meant for loopback.
		mux := at(cfg.PprofAddr)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return out
}

// serveOps serves o until ctx is done.
func serveOps(ctx context.Context, o opsServer, log *slog.Logger) error {
	srv := &http.Server{Addr: o.addr, Handler: o.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("operators' address listening", "addr", o.addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
