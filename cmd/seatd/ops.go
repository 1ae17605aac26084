package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// opsServer is an address that serves what operators use and the public must
// not reach: /metrics (SEATD_METRICS_ADDR), the profiler (SEATD_PPROF_ADDR),
// or both on one address.
type opsServer struct {
	addr string
	ln   net.Listener
	mux  *http.ServeMux
}

// listenOps listens on the operators' addresses that are set, with what each
// serves. It runs before the database is touched: a busy address stops
// seatd having changed nothing.
func listenOps(cfg Config, metrics http.Handler) ([]opsServer, error) {
	var out []opsServer
	var err error
	at := func(addr string) *http.ServeMux {
		for _, o := range out {
			if o.addr == addr {
				return o.mux
			}
		}
		ln, lerr := net.Listen("tcp", addr)
		if lerr != nil {
			err = errors.Join(err, lerr)
		}
		out = append(out, opsServer{addr: addr, ln: ln, mux: http.NewServeMux()})
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
	if err != nil {
		closeOps(out)
		return nil, err
	}
	return out, nil
}

// closeOps closes the operators' listeners (those that did not serve).
func closeOps(ops []opsServer) {
	for _, o := range ops {
		if o.ln != nil {
			o.ln.Close()
		}
	}
}

// serveOps serves o until ctx is done.
func serveOps(ctx context.Context, o opsServer, log *slog.Logger) error {
	srv := &http.Server{Handler: o.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("operators' address listening", "addr", o.ln.Addr().String())
	if err := srv.Serve(o.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
