package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is everything seatd can be told. Each setting is a flag whose default
// comes from an environment variable, so the same binary runs from a shell, a
// systemd unit or a container without a config file.
type Config struct {
	Addr            string
	DatabaseURL     string
	RedisURL        string
	RedisPrefix     string
	HoldTTL         time.Duration
	IdempotencyTTL  time.Duration
	MaxSeats        int
	Demo            bool
	LogFormat       string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
}

// UsesPostgres reports whether DatabaseURL names a PostgreSQL server rather than a
// SQLite file.
func (c Config) UsesPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// parseConfig reads flags from args with defaults from getenv.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("seatd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envDefaults{getenv: getenv}
	fs.StringVar(&cfg.Addr, "addr", env.str("SEATD_ADDR", ":8080"), "listen address [SEATD_ADDR]")
	fs.StringVar(&cfg.DatabaseURL, "database-url", env.str("SEATD_DATABASE_URL", "seatd.db"),
		"postgres:// URL, or the path of a SQLite file [SEATD_DATABASE_URL]")
	fs.StringVar(&cfg.RedisURL, "redis-url", env.str("SEATD_REDIS_URL", ""),
		"redis:// URL of the seat gate; empty: in-process gate [SEATD_REDIS_URL]")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", env.str("SEATD_REDIS_PREFIX", "seatd:"),
		"prefix of every Redis key seatd writes [SEATD_REDIS_PREFIX]")
	fs.DurationVar(&cfg.HoldTTL, "hold-ttl", env.duration("SEATD_HOLD_TTL", 60*time.Second), "how long a hold lasts [SEATD_HOLD_TTL]")
	fs.DurationVar(&cfg.IdempotencyTTL, "idempotency-ttl", env.duration("SEATD_IDEMPOTENCY_TTL", 24*time.Hour),
		"how long the answers of keyed requests are kept for retries [SEATD_IDEMPOTENCY_TTL]")
	fs.IntVar(&cfg.MaxSeats, "max-seats", env.int("SEATD_MAX_SEATS", 10), "most seats in one request [SEATD_MAX_SEATS]")
	fs.BoolVar(&cfg.Demo, "demo", env.bool("SEATD_DEMO", true), "seed demo shows into an empty database [SEATD_DEMO]")
	fs.StringVar(&cfg.LogFormat, "log-format", env.str("SEATD_LOG_FORMAT", "text"), "text or json [SEATD_LOG_FORMAT]")
	fs.TextVar(&cfg.LogLevel, "log-level", env.level("SEATD_LOG_LEVEL", slog.LevelInfo), "debug, info, warn or error [SEATD_LOG_LEVEL]")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", env.duration("SEATD_SHUTDOWN_TIMEOUT", 10*time.Second),
		"how long in-flight requests may finish after SIGTERM [SEATD_SHUTDOWN_TIMEOUT]")
	if env.err != nil {
		return cfg, env.err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	case cfg.HoldTTL < time.Second:
		return cfg, fmt.Errorf("hold ttl %v: must be at least 1s", cfg.HoldTTL)
	case cfg.IdempotencyTTL < time.Minute:
		return cfg, fmt.Errorf("idempotency ttl %v: must be at least 1m", cfg.IdempotencyTTL)
	case cfg.MaxSeats < 1:
		return cfg, fmt.Errorf("max seats %d: must be at least 1", cfg.MaxSeats)
	case cfg.LogFormat != "text" && cfg.LogFormat != "json":
		return cfg, fmt.Errorf("log format %q: want text or json", cfg.LogFormat)
	case strings.Contains(cfg.RedisPrefix, "{"):
		return cfg, fmt.Errorf("redis prefix %q: must not contain '{'", cfg.RedisPrefix)
	}
	return cfg, nil
}

// envDefaults reads flag defaults from the environment, remembering the first
// value it could not parse: a typo in SEATD_HOLD_TTL must stop the server, not
// silently become the default.
type envDefaults struct {
	getenv func(string) string
	err    error
}

func (e *envDefaults) str(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func parseEnv[T any](e *envDefaults, name string, def T, parse func(string) (T, error)) T {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	t, err := parse(v)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("%s=%q: %w", name, v, err)
	}
	if err != nil {
		return def
	}
	return t
}

func (e *envDefaults) duration(name string, def time.Duration) time.Duration {
	return parseEnv(e, name, def, time.ParseDuration)
}

func (e *envDefaults) int(name string, def int) int { return parseEnv(e, name, def, strconv.Atoi) }

func (e *envDefaults) bool(name string, def bool) bool {
	return parseEnv(e, name, def, strconv.ParseBool)
}

func (e *envDefaults) level(name string, def slog.Level) slog.Level {
	return parseEnv(e, name, def, func(s string) (slog.Level, error) {
		var l slog.Level
		err := l.UnmarshalText([]byte(s))
		return l, err
	})
}
