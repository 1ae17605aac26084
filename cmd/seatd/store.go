package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
	"seatmanager/expiry"
	"seatmanager/idempotency"
	"seatmanager/internal/breaker"
	"seatmanager/live"
	"seatmanager/memory"
	"seatmanager/postgres"
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
	holdKeys booking.Scheduler
	listener *redis.Listener
	// changes carries change notices to and from the other instances.
	changes *redis.Changes
	close   func()
}

// openAccelerators returns them in Redis when a Redis URL is configured, else in
// process. An unreachable Redis does not stop seatd: a failing accelerator is
// bypassed and the database decides alone until Redis is back.
func openAccelerators(ctx context.Context, cfg Config, log *slog.Logger) (accelerators, error) {
	if cfg.RedisURL == "" {
		return accelerators{gate: memory.NewGate(), markers: memory.NewMarkers(0), close: func() {}}, nil
	}
	var options []func(*goredis.Options)
	if cfg.RedisConfigure {
		options = append(options, redis.KeepExpiryEvents(log))
	}
	client, err := redis.NewClient(cfg.RedisURL, options...)
	if err != nil {
		return accelerators{}, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		log.Warn("redis does not answer; starting anyway, the database decides alone until it does",
			"redis", redactURL(cfg.RedisURL), "err", err)
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
		close:    func() { client.Close() },
	}, nil
}

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
	if cfg.RedisURL == "" {
		return "in-process"
	}
	return "redis " + redactURL(cfg.RedisURL)
}

// redactURL hides the password of a URL that goes to the logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
