package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server started by this package.
type Postgres struct {
	srv     *server
	dataDir string
	cfg     postgresConfig
}

// PostgresOption configures a server started by StartPostgres.
type PostgresOption func(*postgresConfig)

// postgresConfig is what PostgresOptions set.
type postgresConfig struct {
	durable bool
}

// Durable makes the server keep what it acknowledges through a crash of the
// machine, as a production server does: fsync, synchronous_commit and
// full_page_writes on (the tests' servers turn fsync and full-page writes
// off), and initdb syncs the new cluster. Benchmarks want it, since every
// commit then waits for its WAL flush; tests, which only crash processes,
// do not need it.
func Durable() PostgresOption {
	return func(c *postgresConfig) { c.durable = true }
}

// sharedPostgres starts the test binary's shared server at first use.
// Once, not per test, because initdb takes seconds; a failure is kept so
// every later test reports it at once instead of waiting again.
var sharedPostgres = sync.OnceValues(func() (*Postgres, error) {
	p, err := newPostgres(postgresConfig{})
	if err != nil {
		return nil, err
	}
	addShared(p.srv)
	return p, nil
})

// PostgresURL returns the URL
// (postgres://...@127.0.0.1:port/dbname?sslmode=disable) of a new, empty
// database made for this test on the PostgreSQL server shared by the test
// binary, which is started at first use and is safe to call from parallel
// tests. The database is dropped in tb.Cleanup. If SEATD_TEST_POSTGRES_URL
// is set, the database is made on that server instead.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	if env := os.Getenv(postgresURLEnv); env != "" {
		u, err := url.Parse(env)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			tb.Fatalf("testenv: %s must be a postgres:// URL, got %q", postgresURLEnv, env)
		}
		return newDatabase(tb, u, true)
	}
	p, err := sharedPostgres()
	if err != nil {
		tb.Fatalf("testenv: shared PostgreSQL: %v", err)
	}
	return newDatabase(tb, p.adminURL(), true)
}

// StartPostgres starts a private PostgreSQL server for a test that must
// kill or restart it, or that needs other settings than the shared server's
// (Durable). It has a data dir and a port of its own, and is stopped and
// removed in tb.Cleanup.
func StartPostgres(tb testing.TB, opts ...PostgresOption) *Postgres {
	tb.Helper()
	var cfg postgresConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	p, err := newPostgres(cfg)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.srv.stop(); err != nil {
			tb.Errorf("testenv: %v", err)
		}
	})
	return p
}

// URL returns the URL of a new, empty database on p, made like
// PostgresURL does. The database is not dropped: it goes with the server,
// which the test may have killed by the time its cleanup runs.
func (p *Postgres) URL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, p.adminURL(), false)
}

// Kill SIGKILLs the postmaster and its backends, as in a crash, and waits
// until all of them are gone.
func (p *Postgres) Kill(tb testing.TB) {
	tb.Helper()
	if err := p.srv.kill(); err != nil {
		tb.Fatalf("testenv: kill: %v", err)
	}
}

// Restart shuts the server down as an operator would (fast shutdown: open
// transactions are rolled back, clients disconnected) and starts it again on
// the same port and data dir.
func (p *Postgres) Restart(tb testing.TB) {
	tb.Helper()
	if err := p.srv.shutdown(); err != nil {
		tb.Fatalf("testenv: restart: %v", err)
	}
	p.Start(tb)
}

// Freeze stops the postmaster and its backends with SIGSTOP: they keep their
// connections and answer nothing until Thaw, or the end of the test.
func (p *Postgres) Freeze(tb testing.TB) { tb.Helper(); p.srv.freeze(tb) }

// Thaw resumes a frozen server.
func (p *Postgres) Thaw(tb testing.TB) { tb.Helper(); p.srv.thaw(tb) }

// Start starts p again on the same port and data dir, after Kill, and
// waits until it has recovered and accepts connections.
func (p *Postgres) Start(tb testing.TB) {
	tb.Helper()
	if err := p.srv.start(false); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
}

// adminURL returns the URL of p's maintenance database, from which
// databases are created and dropped.
func (p *Postgres) adminURL() *url.URL {
	return &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     p.srv.addr(),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
}

// newPostgres initialises a cluster in a new temp dir and starts it.
func newPostgres(cfg postgresConfig) (*Postgres, error) {
	bin, err := findPostgres(postgresLibDir)
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	root, err := postgresDir(cred)
	if err != nil {
		return nil, err
	}
	p := &Postgres{dataDir: filepath.Join(root, "data"), cfg: cfg}
	p.srv = &server{
		name:       "postgres",
		dir:        root,
		logPath:    filepath.Join(root, "postgres.log"),
		stopSignal: syscall.SIGINT, // "fast" shutdown; SIGTERM waits for clients
		command:    func(port int) *exec.Cmd { return p.command(bin.postgres, port, cred) },
		ready:      postgresReady,
		prepare:    p.removePIDFile,
	}
	err = initdb(bin.initdb, p.dataDir, cred, cfg.durable)
	if err == nil {
		err = p.srv.start(true)
	}
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	return p, nil
}

// initdb creates a cluster whose superuser "postgres" needs no password.
// Unless durable, it skips syncing the new files to disk.
func initdb(path, dataDir string, cred *syscall.Credential, durable bool) error {
	args := []string{"-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if !durable {
		args = append(args, "--no-sync")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = filepath.Dir(dataDir) // the postgres user may not enter ours
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// command runs the postmaster itself, not pg_ctl, so that it is our child:
// we learn when it exits, and the kernel kills it if we die (see
// startProc). fsync and full-page writes are off, unless the server is
// Durable, because tests only crash processes, never the machine, and
// committed data then still reaches the kernel. The socket goes in the
// data dir, away from the system server's.
func (p *Postgres) command(path string, port int, cred *syscall.Credential) *exec.Cmd {
	args := []string{"-D", p.dataDir, "-p", strconv.Itoa(port), "-k", p.dataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
	}
	for _, kv := range p.durability() {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = p.dataDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// durability returns the settings that decide whether a commit survives
// a crash of the machine. Durable servers spell out PostgreSQL's defaults,
// so that a config file elsewhere cannot change them.
func (p *Postgres) durability() []string {
	if p.cfg.durable {
		return []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on"}
	}
	return []string{"fsync=off", "full_page_writes=off"}
}

// removePIDFile deletes the postmaster.pid a killed server leaves behind.
// PostgreSQL would ignore it if its pid were unused, but the pid may by
// now belong to another postgres process (of the system server, say), and
// then it refuses to start. start only runs this while no process of ours
// is left in the data dir, so the file protects nothing.
func (p *Postgres) removePIDFile() error {
	err := os.Remove(filepath.Join(p.dataDir, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// postgresReady reports whether the server at addr accepts a session, not
// just a TCP connection: during startup and crash recovery it accepts the
// latter and then refuses to log in.
func postgresReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// newDatabase creates an empty database on the server of admin, the URL
// of a database there to connect to meanwhile, and returns its URL. With
// drop, the database is dropped in tb.Cleanup, even if connections are
// still open (WITH (FORCE)), so a shared server does not fill up.
func newDatabase(tb testing.TB, admin *url.URL, drop bool) string {
	tb.Helper()
	name := databaseName(tb.Name())
	ident := pgx.Identifier{name}.Sanitize()
	if err := adminExec(tb.Context(), admin, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("testenv: create database %s: %v", name, err)
	}
	if drop {
		tb.Cleanup(func() {
			// tb.Context is canceled by now.
			err := adminExec(context.Background(), admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
			if err != nil {
				tb.Errorf("testenv: drop database %s: %v", name, err)
			}
		})
	}
	u := *admin
	u.Path = "/" + name
	return u.String()
}

// adminExec runs one statement on its own connection to admin; CREATE
// and DROP DATABASE cannot run inside a transaction, and tests need few.
func adminExec(ctx context.Context, admin *url.URL, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName returns "t_", the sanitized test name and a random suffix,
// within PostgreSQL's 63-byte limit on identifiers; the name helps find a
// test's database, the suffix keeps repeated and same-named tests apart.
func databaseName(testName string) string {
	const maxLen, suffixLen = 63, 1 + 8
	return "t_" + sanitize(testName, maxLen-len("t_")-suffixLen) + "_" + randomHex(4)
}
