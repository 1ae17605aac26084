package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

func TestPostgresURL(t *testing.T) {
	t.Parallel()
	url1, url2 := PostgresURL(t), PostgresURL(t)
	if url1 == url2 {
		t.Fatalf("two PostgresURL calls both returned %s", url1)
	}
	for _, u := range []string{url1, url2} {
		checkNotSystemPort(t, u, "5432")
		conn := connect(t, u)
		var tables int
		err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables)
		if err != nil || tables != 0 {
			t.Fatalf("%s: got %d tables (err %v), want 0", u, tables, err)
		}
		if got := roundTrip(t, conn, u); got != u {
			t.Errorf("read back %q, want %q", got, u)
		}
	}
}

func TestPostgresURLDropsDatabase(t *testing.T) {
	t.Parallel()
	var u string
	t.Run("user", func(t *testing.T) { u = PostgresURL(t) })
	conn, err := pgx.Connect(t.Context(), u)
	if err == nil {
		conn.Close(t.Context())
	}
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		t.Fatalf("connect after cleanup: got %v, want invalid_catalog_name (3D000)", err)
	}
}

func TestRedisAddr(t *testing.T) {
	t.Parallel()
	addr := RedisAddr(t)
	checkNotSystemPort(t, "redis://"+addr, "6379")
	if got, err := redisDo(addr, "PING"); err != nil || got != "PONG" {
		t.Fatalf("PING: got %q, %v, want PONG", got, err)
	}
}

func TestKeyPrefix(t *testing.T) {
	t.Parallel()
	var prefixes []string
	for _, name := range []string{"Some Test", "Some Test"} {
		t.Run(name, func(t *testing.T) { prefixes = append(prefixes, KeyPrefix(t)) })
	}
	for _, p := range prefixes {
		if !strings.HasPrefix(p, "test:testkeyprefix_some_test") || !strings.HasSuffix(p, ":") {
			t.Errorf("got %q, want test:testkeyprefix_some_test...:", p)
		}
	}
	if prefixes[0] == prefixes[1] {
		t.Errorf("two tests both got %q", prefixes[0])
	}
}

func TestPostgresKillStart(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	u := pg.URL(t)
	want := roundTrip(t, connect(t, u), "committed before the kill")

	pg.Kill(t)
	if conn, err := pgx.Connect(t.Context(), u); err == nil {
		conn.Close(t.Context())
		t.Fatal("connected to a killed server")
	}

	pg.Start(t)
	var got string
	if err := connect(t, u).QueryRow(t.Context(), "SELECT v FROM kv").Scan(&got); err != nil || got != want {
		t.Fatalf("after restart: got %q (err %v), want %q", got, err, want)
	}
}

func TestPostgresDurable(t *testing.T) {
	t.Parallel()
	durable := StartPostgres(t, Durable())
	u1, u2 := durable.URL(t), durable.URL(t)
	if u1 == u2 {
		t.Fatalf("two URL calls both returned %s", u1)
	}
	shared := PostgresURL(t)
	if os.Getenv(postgresURLEnv) == "" && hostPort(t, u1) == hostPort(t, shared) {
		t.Fatalf("the durable server %s is the shared one", u1)
	}
	for _, tc := range []struct {
		name string
		url  string
		want string
	}{
		{"durable", u1, "on on on"},
		{"shared", shared, "off on off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "shared" && os.Getenv(postgresURLEnv) != "" {
				t.Skipf("the shared server is %s's, with its own settings", postgresURLEnv)
			}
			var fsync, syncCommit, fullPages string
			err := connect(t, tc.url).QueryRow(t.Context(),
				"SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes')").
				Scan(&fsync, &syncCommit, &fullPages)
			if got := fsync + " " + syncCommit + " " + fullPages; err != nil || got != tc.want {
				t.Errorf("fsync, synchronous_commit, full_page_writes: got %q (err %v), want %q", got, err, tc.want)
			}
		})
	}
}

// hostPort returns rawURL's host:port.
func hostPort(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestRedisKillStart(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, WithAppendOnly())
	key := KeyPrefix(t) + "k"
	if got, err := redisDo(r.Addr(), "SET", key, "v"); err != nil || got != "OK" {
		t.Fatalf("SET: got %q, %v, want OK", got, err)
	}

	r.Kill(t)
	if _, err := redisDo(r.Addr(), "PING"); err == nil {
		t.Fatal("PING answered by a killed server")
	}

	r.Start(t)
	if got, err := redisDo(r.Addr(), "GET", key); err != nil || got != "v" {
		t.Fatalf("GET after restart: got %q, %v, want v", got, err)
	}
}

func TestFindPostgres(t *testing.T) {
	// t.Setenv: not parallel.
	lib := t.TempDir()
	for _, f := range []string{"9.6/bin/initdb", "9.6/bin/postgres", "15/bin/initdb", "15/bin/postgres", "17/bin/initdb"} {
		writeExecutable(t, filepath.Join(lib, f))
	}
	t.Setenv("PATH", t.TempDir())

	bin, err := findPostgres(lib)
	if want := filepath.Join(lib, "15/bin/postgres"); err != nil || bin.postgres != want {
		t.Errorf("got %q, %v, want %s: the highest version with both binaries", bin.postgres, err, want)
	}
	_, err = findPostgres(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("without binaries: got error %v, want one naming apt-get install postgresql", err)
	}
}

// crashEnv makes TestServersDieWithTestBinary act as the test binary that
// crashes.
const crashEnv = "TESTENV_CRASH_CHILD"

func TestServersDieWithTestBinary(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		startAndCrash(t)
		return
	}
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"=1")
	out, err := cmd.Output()
	var dirs []string
	for line := range strings.Lines(string(out)) {
		if dir, ok := strings.CutPrefix(strings.TrimSpace(line), "dir "); ok {
			dirs = append(dirs, dir)
			t.Cleanup(func() { _ = sweep(dir); _ = os.RemoveAll(dir) })
		}
	}
	if len(dirs) != 2 {
		t.Fatalf("child: %v, output:\n%s", err, out)
	}
	for _, dir := range dirs {
		ctx, cancel := context.WithTimeout(t.Context(), stopTimeout)
		err := poll(ctx, func() (bool, error) { return len(procsIn(dir)) == 0, nil })
		cancel()
		if err != nil {
			t.Errorf("processes %v still run in %s after the test binary died", procsIn(dir), dir)
		}
	}
}

// startAndCrash starts servers, opens a backend, and dies without cleanup.
func startAndCrash(t *testing.T) {
	pg, r := StartPostgres(t), StartRedis(t)
	connect(t, pg.URL(t))
	fmt.Printf("dir %s\ndir %s\n", pg.srv.dir, r.srv.dir)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// checkNotSystemPort fails t if rawURL points at the machine's own server.
func checkNotSystemPort(t *testing.T, rawURL, port string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(postgresURLEnv) == "" && os.Getenv(redisAddrEnv) == "" && u.Port() == port {
		t.Fatalf("%s uses the system server's port", rawURL)
	}
}

// connect opens a connection that is closed before the test's database is
// dropped.
func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatalf("connect %s: %v", u, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// roundTrip stores v in a new table and returns what it reads back.
func roundTrip(t *testing.T, conn *pgx.Conn, v string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (v text NOT NULL)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES ($1)", v); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT v FROM kv").Scan(&got); err != nil {
		t.Fatalf("select: %v", err)
	}
	return got
}

// redisDo sends one command and returns its reply: a status, an integer or
// a bulk string, "(nil)" for a missing value, or an error.
func redisDo(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, req); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '-':
		return "", errors.New(line[1:])
	case line[0] != '$':
		return line[1:], nil
	case line == "$-1":
		return "(nil)", nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil {
		return "", err
	}
	buf := make([]byte, n+2)
	_, err = io.ReadFull(rd, buf)
	return string(buf[:n]), err
}

// writeExecutable creates an empty executable file and its directories.
func writeExecutable(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o755); err != nil {
		t.Fatal(err)
	}
}
