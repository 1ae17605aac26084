package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds a start, including crash recovery after Kill.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a graceful stop before we fall back to SIGKILL,
	// and the wait for killed processes to disappear.
	stopTimeout = 10 * time.Second
	// pollInterval is how often we re-check a condition we wait for.
	pollInterval = 50 * time.Millisecond
	// portAttempts is how often a first start retries with a new port,
	// because the port we probed may be taken before the server binds it.
	portAttempts = 5
	// logTail is how much of a server's log goes into a failure message.
	logTail = 8 << 10
)

// server is a process this package owns: it listens on a loopback port,
// keeps everything it writes (data, log) under dir, and can be killed and
// started again on the same port.
type server struct {
	name       string                                       // binary name, for messages
	dir        string                                       // symlink-free temp dir; removed by stop
	logPath    string                                       // stdout and stderr of every run, appended
	stopSignal syscall.Signal                               // the server's "shut down quickly and cleanly" signal
	command    func(port int) *exec.Cmd                     // a fresh command, since an exec.Cmd runs once
	ready      func(ctx context.Context, addr string) error // nil once the server serves requests
	prepare    func() error                                 // optional, runs before each launch

	mu   sync.Mutex
	port int
	proc *proc // nil while not running
}

// proc is one run of a server. The goroutine that started it waits for it,
// so done tells everyone else when it has exited and been reaped.
type proc struct {
	pid  int
	done chan struct{}
	err  error // the result of cmd.Wait, set before done is closed
}

// addr returns the server's host:port.
func (s *server) addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostPort()
}

// pid returns the running server's process id, or 0.
func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.pid
}

// hostPort is addr for callers that hold s.mu.
func (s *server) hostPort() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// start launches the server and waits until it serves requests. With
// newPort it picks a free port for each attempt; otherwise it keeps the
// port, so that clients holding the old address reach the restarted server.
func (s *server) start(newPort bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("%s on %s is already running", s.name, s.hostPort())
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		if newPort {
			port, err := freePort()
			if err != nil {
				return err
			}
			s.port = port
		}
		logStart := fileSize(s.logPath)
		p, err := s.launch(ctx)
		if err == nil {
			s.proc = p
			return nil
		}
		retry := transient(readFrom(s.logPath, logStart)) && (!newPort || attempt < portAttempts)
		if !retry || ctx.Err() != nil {
			return fmt.Errorf("start %s on %s: %w\n--- %s log ---\n%s",
				s.name, s.hostPort(), err, s.name, readTail(s.logPath))
		}
		// A fixed port or a dying predecessor may free up shortly; don't spin.
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}

// transient reports whether a failed start's log shows a condition that
// goes away by itself or with another port.
func transient(log string) bool {
	for _, s := range []string{
		"Address already in use",       // both: someone took the port
		"pre-existing shared memory",   // postgres: a killed backend is still exiting
		"lock file \"postmaster.pid\"", // postgres: same
	} {
		if strings.Contains(log, s) {
			return true
		}
	}
	return false
}

// launch runs one attempt: start the process and wait until it is ready.
// A process that never became ready is killed before launch returns.
func (s *server) launch(ctx context.Context) (*proc, error) {
	if s.prepare != nil {
		if err := s.prepare(); err != nil {
			return nil, err
		}
	}
	p, err := startProc(s.command(s.port), s.logPath)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, p); err != nil {
		return nil, errors.Join(err, s.forceKill(p))
	}
	return p, nil
}

// waitReady polls s.ready until it succeeds, the process exits or ctx ends.
func (s *server) waitReady(ctx context.Context, p *proc) error {
	addr := s.hostPort()
	var last error
	err := poll(ctx, func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("exited before accepting connections (%v)", p.err)
		default:
		}
		last = s.ready(ctx, addr)
		return last == nil, nil
	})
	if ctx.Err() != nil {
		return fmt.Errorf("not accepting connections after %v: %v", startTimeout, last)
	}
	return err
}

// kill SIGKILLs the running server and waits until every process it
// consists of is gone, so the port and data dir are free for start.
func (s *server) kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("%s on %s is not running", s.name, s.hostPort())
	}
	p := s.proc
	s.proc = nil
	return s.forceKill(p)
}

// signal sends sig to the running server's process group and to every
// process working in its dir (PostgreSQL's backends lead sessions of their own).
func (s *server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("%s on %s is not running", s.name, s.hostPort())
	}
	if err := syscall.Kill(-s.proc.pid, sig); err != nil {
		return fmt.Errorf("signal %s on %s: %w", s.name, s.hostPort(), err)
	}
	for _, pid := range procsIn(s.dir) {
		_ = syscall.Kill(pid, sig)
	}
	return nil
}

// freeze stops the server with SIGSTOP, as a machine that stalls: its
// connections stay open and nothing answers. thaw, or the end of tb, resumes it.
func (s *server) freeze(tb testing.TB) {
	tb.Helper()
	if err := s.signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("testenv: freeze: %v", err)
	}
	tb.Cleanup(func() { _ = s.signal(syscall.SIGCONT) })
}

func (s *server) thaw(tb testing.TB) {
	tb.Helper()
	if err := s.signal(syscall.SIGCONT); err != nil {
		tb.Fatalf("testenv: thaw: %v", err)
	}
}

// stop shuts the server down (gracefully if it obeys within stopTimeout)
// and removes its dir.
func (s *server) stop() error {
	return errors.Join(s.shutdown(), os.RemoveAll(s.dir))
}

// shutdown stops the running server as its stopSignal asks (gracefully if it
// obeys within stopTimeout), keeping its dir for start.
func (s *server) shutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(p.pid, s.stopSignal)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
		}
	}
	// Also reaps stragglers, such as backends of a postmaster that
	// exited on its own.
	return s.forceKill(p)
}

// forceKill SIGKILLs p and every process still working in s.dir, and waits
// for them to go.
func (s *server) forceKill(p *proc) error {
	select {
	case <-p.done:
		// Reaped already: its pid may belong to someone else now.
	default:
		// The whole group, to include forks such as Redis's AOF rewriter.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s (pid %d) still running after SIGKILL", s.name, p.pid)
	}
	return sweep(s.dir)
}

// sweep SIGKILLs the processes whose working directory is in dir until
// none is left. PostgreSQL backends need this: they make themselves
// session leaders, so killing the postmaster's group misses them, and they
// keep the shared memory a new postmaster refuses to share. The cwd is
// what identifies them, because they are reparented once the postmaster
// dies and dir is unique to one server.
func sweep(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var left []int
	err := poll(ctx, func() (bool, error) {
		left = procsIn(dir)
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("processes %v still running in %s: %w", left, dir, err)
	}
	return nil
}

// procsIn returns the live processes whose working directory is in dir.
// Zombies and processes we may not inspect have no readable cwd and are
// left out; neither holds resources a restart needs.
func procsIn(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startProc starts cmd with its output appended to logPath (see runProc).
func startProc(cmd *exec.Cmd, logPath string) (*proc, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The child gets its own descriptor, so ours can go once it started.
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	return runProc(cmd)
}

// runProc starts cmd, whose output the caller has set up.
//
// The process gets its own process group, so a Ctrl-C at the terminal
// reaches only the test binary, which then owns the shutdown, and so kill
// can signal the server's forks along with it.
//
// Pdeathsig=SIGKILL makes the kernel kill the server when the test binary
// dies without cleaning up (a panic, a -timeout, SIGKILL), so no orphan
// keeps a port and a data dir. The kernel sends it when the OS *thread*
// that forked the child exits, not the process, and the Go runtime does
// end threads (a goroutine that exits while locked to its thread takes
// the thread with it). So the fork happens on a goroutine locked to its
// thread that stays alive, in cmd.Wait, for as long as the child runs:
// that thread cannot exit before the child or the whole process does.
// It costs one idle thread per running server.
func runProc(cmd *exec.Cmd) (*proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	p := &proc{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only after the child is gone, so the thread survives it.
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return p, nil
}

// poll calls check every pollInterval until it reports done, fails or ctx
// ends.
func poll(ctx context.Context, check func() (bool, error)) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		done, err := check()
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// freePort returns a loopback port that was free a moment ago. Another
// process may still take it before the server binds it, which start
// handles by retrying.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeDir creates a fresh temp dir and returns its symlink-free path, the
// form /proc reports as a working directory.
func makeDir(base, pattern string) (string, error) {
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", errors.Join(err, os.RemoveAll(dir))
	}
	return real, nil
}

// fileSize returns the size of path, or 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the contents of path after offset.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<30))
	return string(b)
}

// readTail returns the end of path, where a server explains why it failed.
func readTail(path string) string {
	return readFrom(path, max(0, fileSize(path)-logTail))
}
