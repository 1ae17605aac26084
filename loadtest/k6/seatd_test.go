package k6

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// seatdStart bounds seatd's start: its URL on stdout, then /healthz.
	seatdStart = 30 * time.Second
	// seatdStop bounds a graceful stop before seatd is killed.
	seatdStop = 10 * time.Second
	// logTail is how much of seatd's log a failure shows.
	logTail = 16 << 10
)

// startSeatd builds the real seatd and runs it on the embedded default (a
// SQLite file in a temp dir, the in-process gate, its default limits and
// demo shows) on a free loopback port, as a user would; it returns seatd's URL
// and stops seatd at the end of the test. cmd/seatload's tests have the same
// helper, but in their own package main, so this is a copy that also waits
// for /healthz.
func startSeatd(tb testing.TB) string {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("the go tool is needed to build seatd: %v", err)
	}
	gomod, err := exec.Command(goTool, "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(gomod)), "go.mod") {
		tb.Fatalf("find the module root: go env GOMOD = %q, %v", gomod, err)
	}
	dir := tb.TempDir()
	bin := filepath.Join(dir, "seatd")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/seatd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/seatd: %v\n%s", err, out)
	}

	cmd := exec.Command(bin)
	// Only our settings: a SEATD_ variable of the caller's environment must
	// not point the test at a shared database or Redis.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEATD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SEATD_DATABASE_URL="+filepath.Join(dir, "seatd.db"), "SEATD_ADDR=127.0.0.1:0")
	// seatd's first line on stdout is the URL it serves at; its log is stderr.
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	logs := &tail{max: logTail}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start seatd: %v", err)
	}
	urls := make(chan string, 1)
	var reader sync.WaitGroup
	reader.Go(func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			urls <- strings.TrimRight(strings.TrimSpace(sc.Text()), "/")
		}
		_, _ = io.Copy(io.Discard, stdout)
	})
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() {
			reader.Wait()
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("seatd did not stop cleanly: %v\n--- seatd log ---\n%s", err, logs)
			}
		case <-time.After(seatdStop):
			_ = cmd.Process.Kill()
			<-done
			tb.Errorf("seatd did not stop within %v of SIGTERM; killed\n--- seatd log ---\n%s", seatdStop, logs)
		}
	})

	deadline := time.After(seatdStart)
	var url string
	select {
	case url = <-urls:
	case <-deadline:
		tb.Fatalf("seatd did not say its URL within %v\n--- seatd log ---\n%s", seatdStart, logs)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		tb.Fatalf("seatd's first line %q, want its http://127.0.0.1:port URL\n--- seatd log ---\n%s", url, logs)
	}
	for {
		if healthy(tb.Context(), url) {
			return url
		}
		select {
		case <-deadline:
			tb.Fatalf("seatd at %s: /healthz not 200 within %v\n--- seatd log ---\n%s", url, seatdStart, logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func healthy(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
