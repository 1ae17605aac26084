package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Sentinel timings: a primary that does not answer for downAfter is down to
// a sentinel; two of the three agreeing start a failover. Production runs
// seconds longer (docs/RELIABILITY.md); drills want it quick.
const (
	downAfter       = time.Second
	failoverTimeout = 5 * time.Second
)

// MasterName is the name the sentinels of StartSentinels monitor the primary by.
const MasterName = "seatd"

// Sentinels is a Redis primary, one replica and three sentinels (quorum 2)
// on loopback, the production topology, for failover drills. Primary and
// Replica are the servers as started: a failover swaps their roles, and
// PrimaryAddr says which is which now.
type Sentinels struct {
	Primary, Replica *Redis
	sentinels        []*server
}

// StartSentinels starts the topology and waits until every sentinel knows
// the replica and the other two sentinels, so that a failover can happen.
// Everything is stopped in tb.Cleanup.
func StartSentinels(tb testing.TB) *Sentinels {
	tb.Helper()
	primary, err := newRedis(redisConfig{})
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	s, err := newSentinels(primary)
	tb.Cleanup(func() {
		if err := errors.Join(s.stop(), primary.srv.stop()); err != nil {
			tb.Errorf("testenv: %v", err)
		}
	})
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return s
}

// newSentinels starts a replica of primary and three sentinels watching it,
// and waits until they can fail over. On error, what started is in the
// result, for stop.
func newSentinels(primary *Redis) (*Sentinels, error) {
	s := &Sentinels{Primary: primary}
	var err error
	if s.Replica, err = newRedis(redisConfig{replicaOf: primary.Addr()}); err != nil {
		return s, fmt.Errorf("replica: %w", err)
	}
	for range 3 {
		srv, err := newSentinel(primary.Addr())
		if err != nil {
			return s, err
		}
		s.sentinels = append(s.sentinels, srv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := poll(ctx, s.settled); err != nil {
		return s, fmt.Errorf("the sentinels did not find the replica and each other within %v: %w", startTimeout, err)
	}
	return s, nil
}

// stop stops the sentinels and the replica (not the primary, which the
// caller started).
func (s *Sentinels) stop() error {
	var errs []error
	for _, srv := range s.sentinels {
		errs = append(errs, srv.stop())
	}
	if s.Replica != nil {
		errs = append(errs, s.Replica.srv.stop())
	}
	return errors.Join(errs...)
}

// Addrs returns host:port of each sentinel.
func (s *Sentinels) Addrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, srv := range s.sentinels {
		addrs[i] = srv.addr()
	}
	return addrs
}

// PrimaryAddr asks the sentinels where the primary is now; the first that
// answers says.
func (s *Sentinels) PrimaryAddr(ctx context.Context) (string, error) {
	var errs []error
	for _, addr := range s.Addrs() {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
		hp, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		c.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1]), nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no sentinel says where the primary is: %w", errors.Join(errs...))
}

// AwaitFailover waits until the sentinels name a primary other than from,
// and returns it, or fails tb after timeout.
func (s *Sentinels) AwaitFailover(tb testing.TB, from string, timeout time.Duration) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), timeout)
	defer cancel()
	var now string
	err := poll(ctx, func() (bool, error) {
		addr, err := s.PrimaryAddr(ctx)
		now = addr
		return err == nil && addr != from, nil
	})
	if err != nil {
		tb.Fatalf("testenv: the sentinels still name %s the primary after %v (now %q)", from, timeout, now)
	}
	return now
}

// settled reports whether every sentinel sees one replica and two other sentinels.
func (s *Sentinels) settled() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, addr := range s.Addrs() {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
		m, err := c.Master(ctx, MasterName).Result()
		c.Close()
		if err != nil || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
			return false, nil
		}
	}
	return true, nil
}

// newSentinel starts a sentinel monitoring primary, in a new temp dir. Its
// config file is written once: sentinels rewrite it with what they learn,
// which a restart must keep.
func newSentinel(primary string) (*server, error) {
	path, err := redisServer()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("", "testenv-sentinel-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "sentinel.conf")
	host, port, _ := net.SplitHostPort(primary)
	text := fmt.Sprintf("bind 127.0.0.1\nprotected-mode no\ndir %s\n", dir) +
		fmt.Sprintf("sentinel monitor %s %s %s 2\n", MasterName, host, port) +
		fmt.Sprintf("sentinel down-after-milliseconds %s %d\n", MasterName, downAfter.Milliseconds()) +
		fmt.Sprintf("sentinel failover-timeout %s %d\n", MasterName, failoverTimeout.Milliseconds())
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	srv := &server{
		name:       "redis-sentinel",
		dir:        dir,
		logPath:    filepath.Join(dir, "sentinel.log"),
		stopSignal: syscall.SIGTERM,
		command: func(port int) *exec.Cmd {
			cmd := exec.Command(path, conf, "--sentinel", "--port", strconv.Itoa(port))
			cmd.Dir = dir
			return cmd
		},
		ready: redisReady,
	}
	if err := srv.start(true); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return srv, nil
}
