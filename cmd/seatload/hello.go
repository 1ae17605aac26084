package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// helloServerCommand is the hidden subcommand calibrate starts this binary with.
const helloServerCommand = "hello-server"

// helloJSON is the hello-world answer: small and fixed, so that the server does
// nothing but HTTP.
var helloJSON = []byte(`{"ok":true}` + "\n")

// runHelloServer serves helloJSON to every POST on 127.0.0.1 and prints its
// address on stdout. It stops when ctx ends or stdin closes: the parent keeps
// stdin open for as long as it wants the server, so the server also goes away
// when the parent dies without cleaning up.
func runHelloServer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet(helloServerCommand, "A hello-world JSON POST server for calibrate.", stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// This goroutine blocks in a read nobody can interrupt; it ends with the
	// process, which it ends first by cancelling ctx.
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()

	srv := &http.Server{
		Handler:           http.HandlerFunc(hello),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// hello reads the request body, as any real handler must, and answers helloJSON.
func hello(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(helloJSON)
}

// helloProcess is a running hello-server child.
type helloProcess struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startHello starts this binary again as a hello-server, in a process of its
// own: in the load generator's process it would share its scheduler and garbage
// collector, which seatd does not.
func startHello(stderr io.Writer) (*helloProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, helloServerCommand)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", exe, helloServerCommand, err)
	}
	h := &helloProcess{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("%s %s did not print its address: %w", exe, helloServerCommand, err)
	}
	h.url = "http://" + strings.TrimSpace(line)
	return h, nil
}

// stop closes the child's stdin, which makes it shut down, and waits for it;
// it kills a child that does not exit within 5 s.
func (h *helloProcess) stop() error {
	h.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-done
		return errors.New("hello-server did not exit within 5s of its stdin closing; killed")
	}
}
