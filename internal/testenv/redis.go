package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a Redis server started by this package.
type Redis struct {
	srv *server
}

// RedisOption configures a server started by StartRedis.
type RedisOption func(*redisConfig)

// redisConfig is what RedisOptions set.
type redisConfig struct {
	appendOnly bool
	replicaOf  string // host:port of the primary, for a replica
}

// WithAppendOnly turns on the append-only file with an fsync per write,
// so that every acknowledged write survives Kill.
func WithAppendOnly() RedisOption {
	return func(c *redisConfig) { c.appendOnly = true }
}

// sharedRedis starts the test binary's shared server at first use and
// keeps a failure, so every later test reports it at once.
var sharedRedis = sync.OnceValues(func() (*Redis, error) {
	r, err := newRedis(redisConfig{})
	if err != nil {
		return nil, err
	}
	addShared(r.srv)
	return r, nil
})

// RedisAddr returns host:port of the Redis server shared by the test
// binary, started at first use and safe to call from parallel tests, or
// SEATD_TEST_REDIS_ADDR if that is set. Tests isolate themselves by key
// prefix (see KeyPrefix).
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	if addr := os.Getenv(redisAddrEnv); addr != "" {
		return addr
	}
	r, err := sharedRedis()
	if err != nil {
		tb.Fatalf("testenv: shared Redis: %v", err)
	}
	return r.Addr()
}

// StartRedis starts a private Redis server for a test that must kill or
// restart it, or change its settings. It is stopped and removed in
// tb.Cleanup.
func StartRedis(tb testing.TB, opts ...RedisOption) *Redis {
	tb.Helper()
	var cfg redisConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	r, err := newRedis(cfg)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.srv.stop(); err != nil {
			tb.Errorf("testenv: %v", err)
		}
	})
	return r
}

// Addr returns the server's host:port, which stays the same across Kill
// and Start.
func (r *Redis) Addr() string {
	return r.srv.addr()
}

// Kill SIGKILLs the server, as in a crash, and waits until it is gone.
func (r *Redis) Kill(tb testing.TB) {
	tb.Helper()
	if err := r.srv.kill(); err != nil {
		tb.Fatalf("testenv: kill: %v", err)
	}
}

// Freeze stops the server with SIGSTOP: it keeps its connections and answers
// nothing until Thaw, or the end of the test.
func (r *Redis) Freeze(tb testing.TB) { tb.Helper(); r.srv.freeze(tb) }

// Thaw resumes a frozen server.
func (r *Redis) Thaw(tb testing.TB) { tb.Helper(); r.srv.thaw(tb) }

// Start starts r again on the same port and dir, after Kill, and waits
// until it has loaded its data and answers PING.
func (r *Redis) Start(tb testing.TB) {
	tb.Helper()
	if err := r.srv.start(false); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
}

// Pid is the server's process id, for drills that report what they did.
func (r *Redis) Pid() int { return r.srv.pid() }

// redisServer finds the redis-server binary, which also runs sentinels.
func redisServer() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server is not on PATH: install it with " +
			"`apt-get install redis-server` (or run `make test`, which does)")
	}
	return path, nil
}

// newRedis starts a server in a new temp dir.
func newRedis(cfg redisConfig) (*Redis, error) {
	path, err := redisServer()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("", "testenv-redis-")
	if err != nil {
		return nil, err
	}
	srv := &server{
		name:       "redis-server",
		dir:        dir,
		logPath:    filepath.Join(dir, "redis.log"),
		stopSignal: syscall.SIGTERM,
		command:    func(port int) *exec.Cmd { return redisCommand(path, dir, port, cfg) },
		ready:      redisReady,
	}
	if err := srv.start(true); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return &Redis{srv: srv}, nil
}

// redisCommand runs redis-server in the foreground, logging to stdout.
// Snapshots are off: they would only slow tests down, and a restart must
// not bring back data the append-only file did not record.
func redisCommand(path, dir string, port int, cfg redisConfig) *exec.Cmd {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", dir,
		"--protected-mode", "no",
		// Drills turn Redis's own expiry cycle off (DEBUG SET-ACTIVE-EXPIRE).
		"--enable-debug-command", "local",
	}
	if cfg.replicaOf != "" {
		host, port, _ := strings.Cut(cfg.replicaOf, ":")
		args = append(args, "--replicaof", host, port)
	}
	if cfg.appendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	return cmd
}

// redisReady reports whether the server at addr answers PING. While it
// loads its data it accepts connections but answers -LOADING.
func redisReady(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if reply := strings.TrimSpace(line); reply != "+PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}
