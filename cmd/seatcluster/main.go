// Command seatcluster runs the production topology from local binaries, for
// machines without Docker (make cluster): PostgreSQL, a Redis primary with a
// replica and three sentinels, two seatd, and HAProxy in front of them, all
// on loopback. It prints the URLs and stops everything on Ctrl-C.
//
//	seatcluster -seatd ./seatd [-addr 127.0.0.1:8088] [-instances 2]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"seatmanager/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seatcluster:", err)
		os.Exit(1)
	}
}

func run() error {
	seatd := flag.String("seatd", "seatd", "the seatd binary")
	addr := flag.String("addr", "127.0.0.1:8088", "the balancer's address: the one URL of the cluster")
	instances := flag.Int("instances", 2, "seatd instances behind the balancer")
	flag.Parse()
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		return errors.New("haproxy is not on PATH: apt-get install haproxy (make cluster does)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "seatcluster: starting PostgreSQL, Redis primary, replica and three sentinels")
	top, err := testenv.StartTopology()
	if err != nil {
		return err
	}
	defer func() {
		if err := top.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "seatcluster:", err)
		}
	}()
	dir, err := os.MkdirTemp("", "seatcluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	env := append(os.Environ(),
		"SEATD_ADDR=127.0.0.1:0", "SEATD_DATABASE_URL="+top.DatabaseURL(), "SEATD_DEMO=true", "SEATD_TRUSTED_PROXIES=127.0.0.1",
		"SEATD_REDIS_SENTINELS="+strings.Join(top.Sentinels.Addrs(), ","), "SEATD_REDIS_MASTER="+testenv.MasterName)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	var servers []string
	for i := range *instances {
		cmd := exec.Command(*seatd)
		cmd.Env = env
		// A group of its own: Ctrl-C reaches seatcluster, which stops the
		// children in order, not each child at once.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		log, err := os.Create(filepath.Join(dir, fmt.Sprintf("seatd-%d.log", i+1)))
		if err != nil {
			return err
		}
		cmd.Stderr = log
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		url, err := firstLine(out, 60*time.Second)
		if err != nil {
			return fmt.Errorf("seatd %d: %w (log: %s)", i+1, err, log.Name())
		}
		go io.Copy(io.Discard, out)
		servers = append(servers, strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
		fmt.Fprintf(os.Stderr, "seatcluster: seatd %d at %s (pid %d, log %s)\n", i+1, url, cmd.Process.Pid, log.Name())
	}

	cfg, err := balancerConfig(*addr, servers)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	lb := exec.Command(haproxy, "-db", "-f", cfgPath)
	lb.Stdout, lb.Stderr = os.Stderr, os.Stderr
	lb.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := lb.Start(); err != nil {
		return err
	}
	lbDone := make(chan error, 1)
	go func() { lbDone <- lb.Wait() }()

	primary, _ := top.Sentinels.PrimaryAddr(ctx)
	fmt.Printf("http://%s/\n", *addr)
	fmt.Fprintf(os.Stderr, "seatcluster: the cluster is at http://%s/ (HAProxy)\n"+
		"  PostgreSQL  %s\n  Redis       primary %s, sentinels %s (master %q)\n"+
		"Ctrl-C stops everything.\n", *addr, top.DatabaseURL(), primary, strings.Join(top.Sentinels.Addrs(), " "), testenv.MasterName)
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "seatcluster: stopping")
		lb.Process.Signal(syscall.SIGTERM)
		<-lbDone
		return nil
	case err := <-lbDone:
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("haproxy exited: %v", err)
	}
}

// firstLine reads the first line r writes (seatd's URL), within d.
func firstLine(r io.Reader, d time.Duration) (string, error) {
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			return "", errors.New("exited before saying its URL")
		}
		return l, nil
	case <-time.After(d):
		return "", fmt.Errorf("said no URL within %v", d)
	}
}

// balancerConfig is deploy/haproxy.cfg with the local addresses of the
// seatd instances in place of the compose services.
func balancerConfig(addr string, servers []string) ([]byte, error) {
	b, err := os.ReadFile("deploy/haproxy.cfg")
	if err != nil {
		return nil, fmt.Errorf("run from the repository's root: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "server "):
			continue // replaced below
		case strings.HasPrefix(t, "bind "):
			line = "    bind " + addr
		}
		out = append(out, line)
		if strings.HasPrefix(t, "default-server ") {
			for i, s := range servers {
				out = append(out, fmt.Sprintf("    server seatd-%d %s check", i+1, s))
			}
		}
	}
	return []byte(strings.Join(out, "\n")), nil
}
