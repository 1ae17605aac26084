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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return serveChild(ctx, http.HandlerFunc(hello), stdin, stdout)
}

// serveChild is the server side of a child: it serves h on a free loopback
// port, prints the address on stdout, and stops when ctx ends or stdin closes.
func serveChild(ctx context.Context, h http.Handler, stdin io.Reader, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Close, not Shutdown: a hub's sockets would keep Shutdown waiting.
		return srv.Close()
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

// child is this binary running one of its hidden servers (the hello-world
// server, the bare live hub) in a process of its own: in the load generator's
// process it would share its scheduler and garbage collector, which seatd does
// not. The child prints its address, and stops when its stdin closes.
type child struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startChild starts this binary again with command and waits for its address.
func startChild(command string, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, command)
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
		return nil, fmt.Errorf("start %s %s: %w", exe, command, err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s %s did not print its address: %w", exe, command, err)
	}
	c.addr = strings.TrimSpace(line)
	return c, nil
}

// stop closes the child's stdin, which makes it shut down, and waits for it;
// it kills a child that does not exit within 5 s.
func (c *child) stop() error {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
		return errors.New(c.cmd.Args[1] + " did not exit within 5s of its stdin closing; killed")
	}
}
