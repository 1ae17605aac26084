// Package testenv gives tests real PostgreSQL and Redis servers, Redis with
// a replica and sentinels for failover drills, (StartTopology) the same
// servers to make cluster, and (StartSeatd) the real seatd as a process.
//
// It starts them from the locally installed binaries on free loopback
// ports, with their files in fresh temp dirs, so tests never touch a
// server someone else uses (such as one on the default ports). Shared
// servers are started once per test binary, at first use, and stopped by
// Main; tests isolate themselves with a database (PostgresURL) or a key
// prefix (KeyPrefix) of their own. Tests that kill or restart a server
// start a private one (StartPostgres, StartRedis).
//
// SEATD_TEST_POSTGRES_URL and SEATD_TEST_REDIS_ADDR make the shared
// servers point at existing ones instead.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Environment variables that replace the shared servers by existing ones.
const (
	postgresURLEnv = "SEATD_TEST_POSTGRES_URL"
	redisAddrEnv   = "SEATD_TEST_REDIS_ADDR"
)

// mainRunning is set by Main. Shared servers require it, because only Main
// can stop them once every test, including parallel ones, has finished.
var mainRunning atomic.Bool

// shared holds the servers Main must stop and the dirs it must remove.
var shared struct {
	mu      sync.Mutex
	servers []*server
	dirs    []string // removed after the servers have stopped
}

// Main runs m, stops every shared server this test binary started and
// removes the seatd binary it built (see StartSeatd). Packages call it
// from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// It calls os.Exit itself.
func Main(m *testing.M) {
	mainRunning.Store(true)
	code := m.Run()
	if err := stopShared(); err != nil {
		// The tests have run; a server that was slow to stop is worth a
		// note but does not make them fail.
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	}
	os.Exit(code)
}

// addShared records a shared server for Main to stop.
func addShared(s *server) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.servers = append(shared.servers, s)
}

// addSharedDir records a dir for Main to remove.
func addSharedDir(dir string) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.dirs = append(shared.dirs, dir)
}

// stopShared stops the shared servers, removes the shared dirs and forgets
// them.
func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var errs []error
	for _, s := range shared.servers {
		if err := s.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range shared.dirs {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	shared.servers, shared.dirs = nil, nil
	return errors.Join(errs...)
}

// requireMain fails tb unless the test binary runs through Main, since
// otherwise a shared server or binary would outlive its tests' cleanup and
// leak its temp dir.
func requireMain(tb testing.TB) {
	tb.Helper()
	if !mainRunning.Load() {
		tb.Fatalf("testenv: shared servers need TestMain to call testenv.Main: " +
			"func TestMain(m *testing.M) { testenv.Main(m) }")
	}
}

// KeyPrefix returns a Redis key prefix unique to this test, like
// "test:<sanitized test name>:<random>:". The random part keeps repeated
// runs (-count) and same-named tests in other packages apart.
func KeyPrefix(tb testing.TB) string {
	tb.Helper()
	return "test:" + sanitize(tb.Name(), 64) + ":" + randomHex(4) + ":"
}

// sanitize lowercases name and turns each run of characters other than
// [a-z0-9] into one "_", so the result is safe as an unquoted SQL
// identifier part or a key segment, and cuts it to at most n bytes.
func sanitize(name string, n int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimSuffix(s, "_")
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}
