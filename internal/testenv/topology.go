package testenv

import (
	"context"
	"errors"
	"fmt"
)

// Topology is the production topology's servers from local binaries, outside
// any test: PostgreSQL with a database "seatd", and a Redis primary with a
// replica and three sentinels, on loopback. make cluster runs it (see
// cmd/seatcluster); the drills start the same servers through StartSentinels
// and StartPostgres.
type Topology struct {
	Postgres  *Postgres
	Sentinels *Sentinels
}

// StartTopology starts every server and waits until the sentinels can fail
// over. On error, what started is stopped again.
func StartTopology() (*Topology, error) {
	t := &Topology{}
	var err error
	if t.Postgres, err = newPostgres(postgresConfig{}); err != nil {
		return nil, err
	}
	if err = adminExec(context.Background(), t.Postgres.adminURL(), "CREATE DATABASE seatd"); err != nil {
		return nil, errors.Join(fmt.Errorf("create database seatd: %w", err), t.Stop())
	}
	primary, err := newRedis(redisConfig{appendOnly: true})
	if err != nil {
		return nil, errors.Join(err, t.Stop())
	}
	t.Sentinels, err = newSentinels(primary)
	if err != nil {
		return nil, errors.Join(err, t.Stop())
	}
	return t, nil
}

// DatabaseURL is the URL of the database "seatd".
func (t *Topology) DatabaseURL() string {
	u := *t.Postgres.adminURL()
	u.Path = "/seatd"
	return u.String()
}

// Stop stops every server and removes their files.
func (t *Topology) Stop() error {
	var errs []error
	if s := t.Sentinels; s != nil {
		errs = append(errs, s.stop(), s.Primary.srv.stop())
	}
	if t.Postgres != nil {
		errs = append(errs, t.Postgres.srv.stop())
	}
	return errors.Join(errs...)
}
