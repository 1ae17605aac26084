package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"seatmanager/booking"
	"seatmanager/memory"
	"seatmanager/postgres"
	"seatmanager/redis"
	"seatmanager/sqlite"
)

// store is what seatd needs of a database: what the service reads and writes,
// health checks and show creation.
type store interface {
	booking.Catalog
	booking.SeatStore
	Ping(ctx context.Context) error
	CreateShow(ctx context.Context, show booking.NewShow) (bool, error)
	Close() error
}

// openStore opens PostgreSQL for a postgres:// URL and SQLite for anything else.
func openStore(ctx context.Context, databaseURL string) (store, error) {
	if (Config{DatabaseURL: databaseURL}).UsesPostgres() {
		s, err := postgres.Open(ctx, databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return pgStore{s}, nil
	}
	s, err := sqlite.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	return s, nil
}

// pgStore gives postgres.Store the Close that returns an error.
type pgStore struct{ *postgres.Store }

func (s pgStore) Close() error { s.Store.Close(); return nil }

// openGate returns the Redis gate when a Redis URL is configured, else the
// in-process one. An unreachable Redis does not stop seatd: the service bypasses a
// failing gate and the database decides alone until Redis is back.
func openGate(ctx context.Context, cfg Config, log *slog.Logger) (booking.Gate, func(), error) {
	if cfg.RedisURL == "" {
		return memory.NewGate(), func() {}, nil
	}
	redis.LogTo(log)
	client, err := redis.NewClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		log.Warn("redis does not answer; starting anyway, the database decides alone until it does",
			"redis", redactURL(cfg.RedisURL), "err", err)
	}
	return redis.NewGate(client, cfg.RedisPrefix), func() { client.Close() }, nil
}

func storeName(cfg Config) string {
	if cfg.UsesPostgres() {
		return "postgres " + redactURL(cfg.DatabaseURL)
	}
	return "sqlite " + cfg.DatabaseURL
}

func gateName(cfg Config) string {
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
