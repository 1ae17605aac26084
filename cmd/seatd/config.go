package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"seatmanager/auth"
	"seatmanager/ratelimit"
)

// Config is everything seatd can be told. Each setting is a flag whose default
// comes from an environment variable, so the same binary runs from a shell, a
// systemd unit or a container without a config file.
type Config struct {
	Addr           string
	DatabaseURL    string
	RedisURL       string
	RedisSentinels []string // host:port of each; with RedisMaster, instead of RedisURL
	RedisMaster    string
	RedisPassword  string // with the sentinels: the primary's; the URL carries its own
	SentinelPass   string
	RedisTLS       bool
	RedisPrefix    string
	RedisConfigure bool
	Gate           bool
	HoldTTL        time.Duration
	MaxExtensions  int
	SweepInterval  time.Duration
	IdempotencyTTL time.Duration
	RefusalTTL     time.Duration
	RequestTimeout time.Duration
	MaxSeats       int
	Demo           bool
	DemoShows      int
	DemoReset      bool
	AllowedOrigins []string
	EventRetention time.Duration
	LivePoll       time.Duration
	LiveYield      time.Duration
	MaxSockets     int
	PprofAddr      string
	MetricsAddr    string // empty: /metrics on Addr

	Auth            bool   // false trusts the body's userId (behind a gateway that authenticates)
	AuthSecret      string // HS256; not a flag, since ps shows flags
	AuthPublicKeys  string // the path of a PEM file
	AuthIssuer      string // what a login's tokens must name as iss
	AuthAudience    string // and among aud
	AuthGuests      bool
	GuestTTL        time.Duration
	MaxHeldPerUser  int
	MaxShowSeats    int
	RateUser        ratelimit.Limit
	RateAddress     ratelimit.Limit
	RateSessions    ratelimit.Limit
	TrustedProxies  []netip.Prefix
	MaxRequests     int
	CORSOrigins     []string
	LogFormat       string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	// Args are what follows the flags: a command, such as "shows create
	// layout.json", instead of serving.
	Args []string
	// UnknownEnv lists the SEATD_ variables of the environment that no
	// setting reads: most likely typos, which seatd warns of.
	UnknownEnv []string
}

// UsesRedis reports whether the gate, markers and hold keys live in Redis (a
// URL, or a primary found through sentinels) rather than in process.
func (c Config) UsesRedis() bool { return c.RedisURL != "" || c.RedisMaster != "" }

// UsesPostgres reports whether DatabaseURL names a PostgreSQL server rather than a
// SQLite file.
func (c Config) UsesPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// parseConfig reads flags from args with defaults from environ, a list of
// "NAME=value" as os.Environ gives it.
func parseConfig(args, environ []string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("seatd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	getenv := func(name string) string { return vars[name] }
	env := envDefaults{getenv: getenv, read: map[string]bool{}}
	fs.StringVar(&cfg.Addr, "addr", env.str("SEATD_ADDR", ":8080"), "listen address [SEATD_ADDR]")
	fs.StringVar(&cfg.DatabaseURL, "database-url", env.str("SEATD_DATABASE_URL", "seatd.db"),
		"postgres:// URL, or the path of a SQLite file [SEATD_DATABASE_URL]")
	fs.StringVar(&cfg.RedisURL, "redis-url", env.str("SEATD_REDIS_URL", ""),
		"redis:// URL of the seat gate; empty: in-process gate [SEATD_REDIS_URL]")
	sentinels := env.str("SEATD_REDIS_SENTINELS", "")
	fs.StringVar(&sentinels, "redis-sentinels", sentinels,
		"comma-separated host:port of the Redis sentinels, instead of -redis-url; needs -redis-master [SEATD_REDIS_SENTINELS]")
	fs.StringVar(&cfg.RedisMaster, "redis-master", env.str("SEATD_REDIS_MASTER", ""),
		"the name the sentinels monitor the Redis primary by [SEATD_REDIS_MASTER]")
	cfg.RedisPassword = env.str("SEATD_REDIS_PASSWORD", "")         // not a flag: ps shows flags
	cfg.SentinelPass = env.str("SEATD_REDIS_SENTINEL_PASSWORD", "") // nor this
	fs.BoolVar(&cfg.RedisTLS, "redis-tls", env.bool("SEATD_REDIS_TLS", false),
		"speak TLS to the sentinels and the Redis primary [SEATD_REDIS_TLS]")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", env.str("SEATD_REDIS_PREFIX", "seatd:"),
		"prefix of every Redis key seatd writes [SEATD_REDIS_PREFIX]")
	fs.BoolVar(&cfg.RedisConfigure, "redis-configure", env.bool("SEATD_REDIS_CONFIGURE", true),
		"enable Redis keyspace expiry events (CONFIG SET notify-keyspace-events); false for managed Redis that forbids CONFIG [SEATD_REDIS_CONFIGURE]")
	fs.BoolVar(&cfg.Gate, "gate", env.bool("SEATD_GATE", true),
		"answer contended holds at the seat gate; false makes the database decide every request [SEATD_GATE]")
	fs.DurationVar(&cfg.HoldTTL, "hold-ttl", env.duration("SEATD_HOLD_TTL", 60*time.Second), "how long a hold lasts [SEATD_HOLD_TTL]")
	fs.IntVar(&cfg.MaxExtensions, "hold-max-extensions", env.int("SEATD_HOLD_MAX_EXTENSIONS", 2),
		"how many times a hold may be extended by one TTL [SEATD_HOLD_MAX_EXTENSIONS]")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", env.duration("SEATD_SWEEP_INTERVAL", time.Second),
		"how often lapsed holds missed by expiry notices are swept; 0 turns the sweep off [SEATD_SWEEP_INTERVAL]")
	fs.DurationVar(&cfg.IdempotencyTTL, "idempotency-ttl", env.duration("SEATD_IDEMPOTENCY_TTL", 24*time.Hour),
		"how long the answers of keyed requests are kept for retries [SEATD_IDEMPOTENCY_TTL]")
	fs.DurationVar(&cfg.RefusalTTL, "idempotency-refusal-ttl", env.duration("SEATD_IDEMPOTENCY_REFUSAL_TTL", 10*time.Minute),
		"how long the answers of refused requests (409, 410) are kept; a retry after it is judged afresh [SEATD_IDEMPOTENCY_REFUSAL_TTL]")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", env.duration("SEATD_REQUEST_TIMEOUT", 5*time.Second),
		"how long a request may take before it is answered 503 [SEATD_REQUEST_TIMEOUT]")
	fs.IntVar(&cfg.MaxSeats, "max-seats", env.int("SEATD_MAX_SEATS", 10), "most seats in one request [SEATD_MAX_SEATS]")
	fs.BoolVar(&cfg.Demo, "demo", env.bool("SEATD_DEMO", false),
		"seed demo shows into an empty database; default true for SQLite, false for PostgreSQL [SEATD_DEMO]")
	fs.IntVar(&cfg.DemoShows, "demo-shows", env.int("SEATD_DEMO_SHOWS", 4), "how many demo shows to seed, 120 seats each [SEATD_DEMO_SHOWS]")
	fs.BoolVar(&cfg.DemoReset, "demo-reset", env.bool("SEATD_DEMO_RESET", false),
		"delete every show, seat, hold, booking, event and stored answer, then seed the demo shows; for demo and load-test databases [SEATD_DEMO_RESET]")
	origins := env.str("SEATD_ALLOWED_ORIGINS", "")
	fs.StringVar(&origins, "allowed-origins", origins,
		"comma-separated origins (host patterns, or scheme://host) besides seatd's own that may open live sockets [SEATD_ALLOWED_ORIGINS]")
	fs.DurationVar(&cfg.EventRetention, "event-retention", env.duration("SEATD_EVENT_RETENTION", 48*time.Hour),
		"how long seat events are kept for viewers that resume and for the events route [SEATD_EVENT_RETENTION]")
	fs.DurationVar(&cfg.LivePoll, "live-poll-interval", env.duration("SEATD_LIVE_POLL_INTERVAL", time.Second),
		"how often a watched show reads its event log unwoken, in case a change notice was lost [SEATD_LIVE_POLL_INTERVAL]")
	fs.DurationVar(&cfg.LiveYield, "live-yield", env.duration("SEATD_LIVE_YIELD", time.Second),
		"how long live seat maps may wait while more seat changes are in flight than there are cores, so that buyers are answered first; 0: never wait [SEATD_LIVE_YIELD]")
	fs.IntVar(&cfg.MaxSockets, "max-sockets", env.int("SEATD_MAX_SOCKETS", 20000), "most live sockets open at once [SEATD_MAX_SOCKETS]")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", env.str("SEATD_PPROF_ADDR", ""),
		"serve net/http/pprof on this address (keep it on loopback); empty: off [SEATD_PPROF_ADDR]")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", env.str("SEATD_METRICS_ADDR", ""),
		"serve /metrics (and pprof, if -pprof-addr is the same) on this address instead of the API's [SEATD_METRICS_ADDR]")
	fs.BoolVar(&cfg.Auth, "auth", env.onOff("SEATD_AUTH", true),
		"on: seat changes need a bearer token; off: trust the body's userId, behind a gateway that authenticates [SEATD_AUTH]")
	cfg.AuthSecret = env.str("SEATD_AUTH_SECRET", "") // not a flag: ps shows flags
	fs.StringVar(&cfg.AuthPublicKeys, "auth-public-keys", env.str("SEATD_AUTH_PUBLIC_KEYS", ""),
		"PEM file of the Ed25519 or RSA public keys of a login whose tokens seatd accepts [SEATD_AUTH_PUBLIC_KEYS]")
	fs.StringVar(&cfg.AuthIssuer, "auth-issuer", env.str("SEATD_AUTH_ISSUER", ""),
		"the iss that tokens signed by the public keys must carry; empty: any [SEATD_AUTH_ISSUER]")
	fs.StringVar(&cfg.AuthAudience, "auth-audience", env.str("SEATD_AUTH_AUDIENCE", ""),
		"an aud that tokens signed by the public keys must carry; empty: any [SEATD_AUTH_AUDIENCE]")
	fs.BoolVar(&cfg.AuthGuests, "auth-guests", env.bool("SEATD_AUTH_GUESTS", true),
		"open guest sessions at POST /api/sessions [SEATD_AUTH_GUESTS]")
	fs.DurationVar(&cfg.GuestTTL, "auth-guest-ttl", env.duration("SEATD_AUTH_GUEST_TTL", 24*time.Hour),
		"how long a guest token is valid [SEATD_AUTH_GUEST_TTL]")
	fs.IntVar(&cfg.MaxHeldPerUser, "max-held-per-user", env.int("SEATD_MAX_HELD_PER_USER", 10),
		"most seats of a show one user may hold at once; 0: no cap [SEATD_MAX_HELD_PER_USER]")
	fs.IntVar(&cfg.MaxShowSeats, "max-show-seats", env.int("SEATD_MAX_SHOW_SEATS", 100_000),
		"most seats a show made from a layout may have [SEATD_MAX_SHOW_SEATS]")
	fs.TextVar(&cfg.RateUser, "rate-user", env.limit("SEATD_RATE_USER", ratelimit.Limit{Rate: 10, Period: time.Second}),
		"seat changes per user: N/s, N/m or N/h (bursts of N), or off [SEATD_RATE_USER]")
	fs.TextVar(&cfg.RateAddress, "rate-address", env.limit("SEATD_RATE_ADDRESS", ratelimit.Limit{Rate: 6000, Period: time.Minute}),
		"seat changes per client address [SEATD_RATE_ADDRESS]")
	fs.TextVar(&cfg.RateSessions, "rate-sessions", env.limit("SEATD_RATE_SESSIONS", ratelimit.Limit{Rate: 1000, Period: time.Hour}),
		"guest sessions per client address [SEATD_RATE_SESSIONS]")
	proxies := env.str("SEATD_TRUSTED_PROXIES", "")
	fs.StringVar(&proxies, "trusted-proxies", proxies,
		"comma-separated addresses or CIDR prefixes of proxies whose X-Forwarded-For names the client [SEATD_TRUSTED_PROXIES]")
	fs.IntVar(&cfg.MaxRequests, "max-requests", env.int("SEATD_MAX_REQUESTS", 4096),
		"most requests served at once (sockets and health checks aside); past it, 503 [SEATD_MAX_REQUESTS]")
	cors := env.str("SEATD_CORS_ORIGINS", "")
	fs.StringVar(&cors, "cors-origins", cors,
		"comma-separated origins (https://host, or *) whose pages may call the API [SEATD_CORS_ORIGINS]")
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
	cfg.Args = fs.Args()
	demoSet := getenv("SEATD_DEMO") != ""
	fs.Visit(func(f *flag.Flag) { demoSet = demoSet || f.Name == "demo" })
	if !demoSet {
		// The embedded default is for trying things out: it comes with shows.
		// A production database starts empty unless asked otherwise.
		cfg.Demo = !cfg.UsesPostgres()
	}
	cfg.RedisSentinels = list(sentinels)
	cfg.AllowedOrigins = list(origins)
	cfg.CORSOrigins = list(cors)
	for _, p := range list(proxies) {
		prefix, err := parsePrefix(p)
		if err != nil {
			return cfg, fmt.Errorf("trusted proxies: %w", err)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	for _, kv := range environ {
		// SEATD_TEST_ variables belong to the tests' harness.
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SEATD_") && !strings.HasPrefix(k, "SEATD_TEST_") && !env.read[k] {
			cfg.UnknownEnv = append(cfg.UnknownEnv, k)
		}
	}
	switch {
	case cfg.RedisURL != "" && (len(cfg.RedisSentinels) > 0 || cfg.RedisMaster != ""):
		return cfg, fmt.Errorf("redis: set either SEATD_REDIS_URL or SEATD_REDIS_SENTINELS with SEATD_REDIS_MASTER, not both")
	case (len(cfg.RedisSentinels) > 0) != (cfg.RedisMaster != ""):
		return cfg, fmt.Errorf("redis sentinel: SEATD_REDIS_SENTINELS and SEATD_REDIS_MASTER go together; only one is set")
	case cfg.RedisURL != "" && (cfg.RedisPassword != "" || cfg.SentinelPass != "" || cfg.RedisTLS):
		return cfg, fmt.Errorf("redis: with SEATD_REDIS_URL, its password and TLS (rediss://) go in the URL")
	case cfg.HoldTTL < time.Second:
		return cfg, fmt.Errorf("hold ttl %v: must be at least 1s", cfg.HoldTTL)
	case cfg.IdempotencyTTL < time.Minute:
		return cfg, fmt.Errorf("idempotency ttl %v: must be at least 1m", cfg.IdempotencyTTL)
	case cfg.RefusalTTL < time.Second || cfg.RefusalTTL > cfg.IdempotencyTTL:
		return cfg, fmt.Errorf("idempotency refusal ttl %v: must be at least 1s and at most the idempotency ttl (%v)", cfg.RefusalTTL, cfg.IdempotencyTTL)
	case cfg.RequestTimeout < 100*time.Millisecond || cfg.RequestTimeout > time.Minute:
		return cfg, fmt.Errorf("request timeout %v: must be between 100ms and 1m", cfg.RequestTimeout)
	case cfg.EventRetention < time.Hour:
		return cfg, fmt.Errorf("event retention %v: must be at least 1h", cfg.EventRetention)
	case cfg.LivePoll < 10*time.Millisecond:
		return cfg, fmt.Errorf("live poll interval %v: must be at least 10ms", cfg.LivePoll)
	case cfg.LiveYield < 0:
		return cfg, fmt.Errorf("live yield %v: must not be negative", cfg.LiveYield)
	case cfg.MaxSockets < 1:
		return cfg, fmt.Errorf("max sockets %d: must be at least 1", cfg.MaxSockets)
	case cfg.DemoReset && !cfg.Demo:
		return cfg, fmt.Errorf("demo reset needs the demo shows on (SEATD_DEMO=true)")
	case cfg.MaxExtensions < 0:
		return cfg, fmt.Errorf("hold max extensions %d: must not be negative", cfg.MaxExtensions)
	case cfg.SweepInterval < 0:
		return cfg, fmt.Errorf("sweep interval %v: must not be negative", cfg.SweepInterval)
	case cfg.DemoShows < 1:
		return cfg, fmt.Errorf("demo shows %d: must be at least 1", cfg.DemoShows)
	case cfg.MaxShowSeats < 1:
		return cfg, fmt.Errorf("max show seats %d: must be at least 1", cfg.MaxShowSeats)
	case cfg.MaxHeldPerUser < 0:
		return cfg, fmt.Errorf("max held per user %d: must not be negative", cfg.MaxHeldPerUser)
	case cfg.GuestTTL < time.Minute:
		return cfg, fmt.Errorf("auth guest ttl %v: must be at least 1m", cfg.GuestTTL)
	case cfg.MaxRequests < 0:
		return cfg, fmt.Errorf("max requests %d: must not be negative", cfg.MaxRequests)
	case cfg.AuthSecret != "" && len(cfg.AuthSecret) < auth.MinSecretBytes:
		return cfg, fmt.Errorf("SEATD_AUTH_SECRET: %d bytes, want at least %d", len(cfg.AuthSecret), auth.MinSecretBytes)
	case cfg.MaxSeats < 1:
		return cfg, fmt.Errorf("max seats %d: must be at least 1", cfg.MaxSeats)
	case cfg.LogFormat != "text" && cfg.LogFormat != "json":
		return cfg, fmt.Errorf("log format %q: want text or json", cfg.LogFormat)
	case !cfg.UsesPostgres() && strings.Contains(cfg.DatabaseURL, "="):
		return cfg, fmt.Errorf("database url %q: looks like a PostgreSQL keyword DSN; use a postgres:// URL", cfg.DatabaseURL)
	case strings.Contains(cfg.RedisPrefix, "{"):
		return cfg, fmt.Errorf("redis prefix %q: must not contain '{'", cfg.RedisPrefix)
	}
	for i, addr := range []string{cfg.Addr, cfg.MetricsAddr, cfg.PprofAddr} {
		if addr == "" && i > 0 {
			continue // off
		}
		if err := checkAddr(addr); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// list splits a comma-separated setting, dropping empty items.
func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parsePrefix reads a CIDR prefix, or an address as the prefix of itself.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("%q: want an address or a CIDR prefix like 10.0.0.0/8", s)
	}
	return p.Masked(), nil
}

// checkAddr checks a listen address without listening: host:port with a
// port number from 0 to 65535.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("address %q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

// envDefaults reads flag defaults from the environment, remembering the first
// value it could not parse: a typo in SEATD_HOLD_TTL must stop the server, not
// silently become the default.
type envDefaults struct {
	getenv func(string) string
	read   map[string]bool // the names asked for
	err    error
}

func (e *envDefaults) str(name, def string) string {
	e.read[name] = true
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func parseEnv[T any](e *envDefaults, name string, def T, parse func(string) (T, error)) T {
	e.read[name] = true
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

// onOff reads on/off, or any boolean strconv takes.
func (e *envDefaults) onOff(name string, def bool) bool {
	return parseEnv(e, name, def, func(s string) (bool, error) {
		switch strings.ToLower(s) {
		case "on":
			return true, nil
		case "off":
			return false, nil
		}
		return strconv.ParseBool(s)
	})
}

func (e *envDefaults) limit(name string, def ratelimit.Limit) ratelimit.Limit {
	return parseEnv(e, name, def, ratelimit.ParseLimit)
}

func (e *envDefaults) level(name string, def slog.Level) slog.Level {
	return parseEnv(e, name, def, func(s string) (slog.Level, error) {
		var l slog.Level
		err := l.UnmarshalText([]byte(s))
		return l, err
	})
}
