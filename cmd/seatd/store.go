package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
	"seatmanager/expiry"
	"seatmanager/httpapi"
	"seatmanager/idempotency"
	"seatmanager/internal/breaker"
	"seatmanager/live"
	"seatmanager/memory"
	"seatmanager/postgres"
	"seatmanager/ratelimit"
	"seatmanager/redis"
	"seatmanager/sqlite"
)

// store is what seatd needs of a database: what the service reads and writes,
// health checks and show creation.
type store interface {
	booking.Store
	idempotency.Store
	idempotency.BatchStore
	expiry.Store
	SweepReceipts(ctx context.Context, limit int) (int, error)
	Ping(ctx context.Context) error
	CreateShow(ctx context.Context, show booking.NewShow) (bool, error)
	Reset(ctx context.Context) error
	PruneEvents(ctx context.Context, before time.Time) (int, error)
	KeepSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
	Close() error
}

// openStore opens PostgreSQL for a postgres:// URL and SQLite for anything else.
func openStore(ctx context.Context, databaseURL string) (store, error) {
	if (Config{DatabaseURL: databaseURL}).UsesPostgres() {
		s, err := postgres.Open(ctx, databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	return s, nil
}

// accelerators are what seatd keeps outside the database to go faster: the seat
// gate, the idempotency markers and, with Redis, hold keys whose expiry events
// release lapsed holds.
type accelerators struct {
	gate    booking.Gate
	markers idempotency.Markers
	// holdKeys and listener are set with Redis; without it, in-process timers
	// stand in for them.
	holdKeys *redis.HoldKeys
	listener *redis.Listener
	// changes carries change notices to and from the other instances.
	changes *redis.Changes
	// limiter enforces the rate limits: shared by the instances through
	// Redis, or in process.
	limiter httpapi.Limiter
	close   func()
}

// openAccelerators returns them in Redis when a Redis URL is configured, else in
// process. An unreachable Redis does not stop seatd: a failing accelerator is
// bypassed and the database decides alone until Redis is back.
func openAccelerators(ctx context.Context, cfg Config, log *slog.Logger) (accelerators, error) {
	if !cfg.UsesRedis() {
		return accelerators{gate: memory.NewGate(), markers: memory.NewMarkers(0), limiter: ratelimit.NewLocal(maxRateKeys), close: func() {}}, nil
	}
	var options []func(*goredis.Options)
	if cfg.RedisConfigure {
		// On every new connection: the setting is per server and not
		// replicated, so a promoted replica gets it from its first client.
		options = append(options, redis.KeepExpiryEvents(log))
	}
	var client *goredis.Client
	var err error
	if cfg.RedisURL != "" {
		client, err = redis.NewClient(cfg.RedisURL, options...)
	} else {
		s := redis.Sentinels{Addrs: cfg.RedisSentinels, Master: cfg.RedisMaster, Password: cfg.RedisPassword, SentinelPassword: cfg.SentinelPass}
		if cfg.RedisTLS {
			s.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		client, err = redis.NewFailoverClient(s, options...)
	}
	if err != nil {
		return accelerators{}, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		log.Warn("redis does not answer; starting anyway, the database decides alone until it does",
			"redis", acceleratorsName(cfg), "err", err)
	}
	if !cfg.RedisConfigure {
		if on, err := redis.ExpiryEventsEnabled(ctx, client); !on {
			log.Warn("Redis does not publish key expirations (notify-keyspace-events needs E and x); "+
				"holds of instances that die wait for the sweep", "err", err)
		}
	}
	ap, err := redis.Pipelined(client)
	if err != nil {
		return accelerators{}, err
	}
	return accelerators{
		gate:     breaker.Gate{Gate: redis.NewGate(ap, cfg.RedisPrefix), Breaker: breaker.New("seat gate", time.Second, log)},
		markers:  redis.NewMarkers(ap, cfg.RedisPrefix),
		holdKeys: redis.NewHoldKeys(ap, cfg.RedisPrefix),
		listener: &redis.Listener{Client: client, DB: client.Options().DB, Prefix: cfg.RedisPrefix, Logger: log},
		changes:  &redis.Changes{Client: client, Channel: cfg.RedisPrefix + "changes"},
		limiter: breaker.Limiter{Limiter: redis.NewRateLimiter(ap, cfg.RedisPrefix), Fallback: ratelimit.NewLocal(maxRateKeys),
			Breaker: breaker.New("redis rate limiter", time.Second, log)},
		close: func() { client.Close() },
	}, nil
}

// maxRateKeys bounds the buckets an in-process rate limiter keeps that have
// not refilled (about 200 bytes each).
const maxRateKeys = 100_000

// reapInterval is how often each instance has Redis expire the hold keys
// that are due (redis.HoldKeys.Reap): the bound on an expiry event's delay.
const reapInterval = 10 * time.Millisecond

// changeNotices returns how this instance tells the others of seat changes
// and hears of theirs: Redis pub/sub with Redis, else PostgreSQL
// LISTEN/NOTIFY, else (one SQLite instance) nothing.
func changeNotices(acc accelerators, s store, log *slog.Logger) (live.Remote, func(ctx context.Context, wake func(string)) error) {
	switch {
	case acc.changes != nil:
		return acc.changes, acc.changes.Listen
	case isPostgres(s):
		c := s.(*postgres.Store).Changes(log)
		return c, c.Listen
	}
	return nil, nil
}

func isPostgres(s store) bool {
	_, ok := s.(*postgres.Store)
	return ok
}

func storeName(cfg Config) string {
	if cfg.UsesPostgres() {
		return "postgres " + redactURL(cfg.DatabaseURL)
	}
	return "sqlite " + cfg.DatabaseURL
}

func acceleratorsName(cfg Config) string {
	switch {
	case cfg.RedisURL != "":
		return "redis " + redactURL(cfg.RedisURL)
	case cfg.RedisMaster != "":
		return "redis primary " + cfg.RedisMaster + " via sentinels " + strings.Join(cfg.RedisSentinels, ",")
	}
	return "in-process"
}

// redactURL hides the password of a URL that goes to the logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
