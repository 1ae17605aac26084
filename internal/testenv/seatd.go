package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// seatdStartTimeout bounds a start: the URL on stdout, then /healthz.
	// Generous, because seatd seeds its demo shows before it serves and a
	// benchmark asks for hundreds in PostgreSQL; a seatd that exits fails
	// the start at once.
	seatdStartTimeout = 2 * time.Minute
	// seatdStopTimeout bounds a graceful stop before SIGKILL. It is above
	// seatd's default SEATD_SHUTDOWN_TIMEOUT (10s), so that in-flight
	// requests may finish.
	seatdStopTimeout = 15 * time.Second
)

// Seatd is a seatd process a test started.
type Seatd struct {
	// URL is where seatd serves: http://127.0.0.1:port, without a trailing
	// slash.
	URL string
	// Pid is seatd's process id.
	Pid int
	// Bin is the seatd binary, shared by every seatd of the test binary:
	// run it as a command (seatd <command>), but do not change or remove it.
	Bin string

	logPath string
	logFile *os.File // seatd's stderr; closed once seatd has exited
	proc    *proc
	stop    sync.Once
}

// SeatdOption configures a seatd started by StartSeatd.
type SeatdOption func(*seatdConfig)

// seatdConfig is what SeatdOptions set.
type seatdConfig struct {
	log io.Writer // also gets seatd's log, if set
}

// WithSeatdLog copies seatd's log (its stderr) to w as it is written, for
// runs that want to show it as it happens; Log has it either way.
func WithSeatdLog(w io.Writer) SeatdOption {
	return func(c *seatdConfig) { c.log = w }
}

// seatdBinary builds seatd at first use, into a temp dir Main removes. Once
// per test binary, not per test, because a build takes seconds; a failure
// is kept so that every later test reports it at once.
var seatdBinary = sync.OnceValues(func() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("the go tool, which builds seatd, is not on PATH: install Go or add its bin dir to PATH")
	}
	root, err := moduleRoot(goTool)
	if err != nil {
		return "", err
	}
	dir, err := makeDir("", "testenv-seatd-")
	if err != nil {
		return "", err
	}
	addSharedDir(dir)
	bin := filepath.Join(dir, "seatd")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/seatd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/seatd: %w\n%s", err, out)
	}
	return bin, nil
})

// moduleRoot returns the directory of the go.mod the test runs in, which
// is seatmanager's: a test's working directory is its package's.
func moduleRoot(goTool string) (string, error) {
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || filepath.Base(gomod) != "go.mod" {
		return "", fmt.Errorf("find the module root: go env GOMOD = %q, %v", gomod, err)
	}
	return filepath.Dir(gomod), nil
}

// StartSeatd starts the real seatd, built once per test binary, as a user
// would, and waits until it prints its URL and answers /healthz. It runs with
// the test binary's environment but for its SEATD_ variables, which must not
// point a test at a shared database or Redis, and with env on top; SEATD_ADDR
// is 127.0.0.1:0 unless env sets it. Its working directory is a temp dir of
// its own, where the embedded default's seatd.db goes unless env sets
// SEATD_DATABASE_URL. It is stopped in tb.Cleanup, or earlier by Stop; a
// seatd that fails to start or to stop cleanly fails tb with the end of its
// log.
func StartSeatd(tb testing.TB, env map[string]string, opts ...SeatdOption) *Seatd {
	tb.Helper()
	requireMain(tb)
	var cfg seatdConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	bin, err := seatdBinary()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	dir := tb.TempDir()
	s := &Seatd{Bin: bin, logPath: filepath.Join(dir, "seatd.log")}
	if s.logFile, err = os.Create(s.logPath); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = seatdEnv(os.Environ(), env)
	cmd.Stderr = s.logFile
	if cfg.log != nil {
		cmd.Stderr = io.MultiWriter(s.logFile, cfg.log)
	}
	// seatd's first line on stdout is the URL it serves at.
	stdout := &firstLine{line: make(chan string, 1)}
	cmd.Stdout = stdout
	if s.proc, err = runProc(cmd); err != nil {
		s.logFile.Close()
		tb.Fatalf("testenv: %v", err)
	}
	s.Pid = s.proc.pid
	tb.Cleanup(func() { s.Stop(tb) })
	if err := s.waitReady(tb.Context(), stdout.line); err != nil {
		// Killed, not stopped: the log so far tells why, and a failed stop
		// would only repeat it.
		s.stop.Do(func() { _ = s.kill() })
		tb.Fatalf("testenv: seatd: %v\n--- seatd log ---\n%s", err, readTail(s.logPath))
	}
	return s
}

// seatdEnv returns environ without its SEATD_ variables, with SEATD_ADDR
// on loopback unless env sets it, and with env, in key order.
func seatdEnv(environ []string, env map[string]string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "SEATD_") {
			out = append(out, kv)
		}
	}
	if _, ok := env["SEATD_ADDR"]; !ok {
		out = append(out, "SEATD_ADDR=127.0.0.1:0")
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// waitReady sets s.URL from line and waits until /healthz answers 200.
func (s *Seatd) waitReady(ctx context.Context, line <-chan string) error {
	ctx, cancel := context.WithTimeout(ctx, seatdStartTimeout)
	defer cancel()
	select {
	case l := <-line:
		u, err := url.Parse(l)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("its first line on stdout is %q, want the http:// URL it serves at", l)
		}
		s.URL = strings.TrimSuffix(l, "/")
	case <-s.proc.done:
		return fmt.Errorf("exited before it served (%v)", s.proc.err)
	case <-ctx.Done():
		return fmt.Errorf("did not print its URL within %v", seatdStartTimeout)
	}
	var last error
	err := poll(ctx, func() (bool, error) {
		select {
		case <-s.proc.done:
			return false, fmt.Errorf("exited before %s/healthz answered (%v)", s.URL, s.proc.err)
		default:
		}
		last = healthz(ctx, s.URL)
		return last == nil, nil
	})
	if ctx.Err() != nil {
		return fmt.Errorf("%s/healthz not 200 within %v: %v", s.URL, seatdStartTimeout, last)
	}
	return err
}

// healthz reports whether the seatd at base answers /healthz with 200.
func healthz(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /healthz: %s", resp.Status)
	}
	return nil
}

// Log returns what seatd has logged so far (its stderr).
func (s *Seatd) Log() string {
	return readFrom(s.logPath, 0)
}

// Stop stops seatd before the end of the test: SIGTERM, which lets in-flight
// requests finish, then SIGKILL if it has not exited within a bound. It fails
// tb, with the end of seatd's log, unless seatd exited with status 0 on
// SIGTERM; a seatd that had exited by itself fails it too. Later calls, and
// the one in the cleanup of StartSeatd, do nothing.
func (s *Seatd) Stop(tb testing.TB) {
	tb.Helper()
	s.stop.Do(func() {
		if err := s.shutdown(); err != nil {
			tb.Errorf("testenv: %v\n--- seatd log ---\n%s", err, readTail(s.logPath))
		}
	})
}

// shutdown stops seatd as Stop describes and reports whatever was not clean.
func (s *Seatd) shutdown() error {
	select {
	case <-s.proc.done:
		s.logFile.Close()
		return fmt.Errorf("seatd (pid %d) exited before the test stopped it (%v)", s.Pid, exitStatus(s.proc.err))
	default:
	}
	_ = syscall.Kill(s.Pid, syscall.SIGTERM)
	select {
	case <-s.proc.done:
		s.logFile.Close()
		if s.proc.err != nil {
			return fmt.Errorf("seatd (pid %d) did not stop cleanly on SIGTERM: %w", s.Pid, s.proc.err)
		}
		return nil
	case <-time.After(seatdStopTimeout):
	}
	return errors.Join(fmt.Errorf("seatd (pid %d) did not stop within %v of SIGTERM; killed", s.Pid, seatdStopTimeout), s.kill())
}

// kill SIGKILLs seatd's process group and waits until seatd is gone.
func (s *Seatd) kill() error {
	select {
	case <-s.proc.done:
		// Reaped already: its pid may belong to someone else now.
	default:
		_ = syscall.Kill(-s.Pid, syscall.SIGKILL)
	}
	select {
	case <-s.proc.done:
		s.logFile.Close()
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("seatd (pid %d) still running after SIGKILL", s.Pid)
	}
}

// exitStatus describes how a process ended, given cmd.Wait's result.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// firstLine keeps the first line written to it, without its newline, and
// sends it on line; it discards everything after.
type firstLine struct {
	line chan string // buffered: gets one value

	mu   sync.Mutex
	buf  []byte
	sent bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent {
		return len(p), nil
	}
	f.buf = append(f.buf, p...)
	if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
		f.line <- strings.TrimSpace(string(f.buf[:i]))
		f.sent, f.buf = true, nil
	}
	return len(p), nil
}
