// Command seatload drives a running seatd with many concurrent buyers and checks,
// through the API alone, that no seat was sold twice and that the booked seats are
// exactly those whose buyers were told they won. It also measures this machine's
// own limits (calibrate), so that results can be reported as ratios to them rather
// than as absolute times that drift from machine to machine.
//
//	seatload storm        500 buyers released at once on the same 10 seats
//	seatload steady       workers hold, book and release free seats for a while
//	seatload contend      workers ask, for a while, for seats others hold: refusals
//	seatload create-show  one show of many seats (a stadium) through the operator API
//	seatload browse       seat-map reads
//	seatload live         live seat-map sockets: delay from commit to socket
//	seatload calibrate    a hello-world POST server, a bare hold UPDATE on PostgreSQL and SQLite
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"seatmanager/auth"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "seatload:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand. It returns an error when the run failed in any
// way a caller must notice: a request without an answer, a 5xx, an answer the
// scenario cannot explain, or a verification problem. getenv supplies the
// defaults some flags take from the environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if len(args) == 0 {
		usage(stderr)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "storm":
		return runStorm(ctx, rest, getenv, stdout, stderr)
	case "steady":
		return runSteady(ctx, rest, getenv, stdout, stderr)
	case "contend":
		return runContend(ctx, rest, getenv, stdout, stderr)
	case "create-show":
		return runCreateShow(ctx, rest, getenv, stdout, stderr)
	case "browse":
		return runBrowse(ctx, rest, stdout, stderr)
	case "live":
		return runLive(ctx, rest, getenv, stdout, stderr)
	case "calibrate":
		return runCalibrate(ctx, rest, stdout, stderr)
	case liveHubCommand:
		// Hidden: calibrate starts it, as it does the hello-world server.
		return runLiveHubServer(ctx, rest, os.Stdin, stdout, stderr)
	case helloServerCommand:
		// Hidden: calibrate starts this binary again with it, so that the
		// hello-world server does not share the load generator's process.
		return runHelloServer(ctx, rest, os.Stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: seatload <command> [flags]

Commands:
  storm        many buyers released at once on the same few seats, each holding 1–2 and booking
  steady       workers hold 1–N free seats of their own shows and book or release them
  contend      workers ask for 1–2 of seats other users hold, for a while: every answer must be a 409
  create-show  one show of -seats seats (60 000 by default) in rows, through the operator API
  browse       seat-map and show-list reads
  live         sockets on live seat maps: commit-to-socket delay of changes, memory per socket
  calibrate    this machine's limits: hello-world POST server, bare hold UPDATE on PostgreSQL and SQLite

Every command exits non-zero on a transport error, a 5xx, an unexpected answer (a
401, 403 or 429 among them) or a failed verification. Run 'seatload <command> -h'
for its flags.

storm, steady, contend and live change seats, which seatd lets only a user with a
bearer token do. With -auth-secret (or SEATLOAD_AUTH_SECRET), seatd's SEATD_AUTH_SECRET,
seatload signs a token for each of its users; without, it opens a guest session
(POST /api/sessions) for each before the run.
`)
}

// common are the flags every load command takes.
type common struct {
	url  string
	json bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "base URL of the seatd to load")
	fs.BoolVar(&c.json, "json", false, "print one JSON object instead of the summary table (and no progress bar)")
}

// authFlags are the flags of the commands that change seats.
type authFlags struct {
	secret string
}

func (a *authFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&a.secret, "auth-secret", getenv("SEATLOAD_AUTH_SECRET"),
		"seatd's SEATD_AUTH_SECRET, to sign each user's token with; empty: open a guest session per user (POST /api/sessions) [SEATLOAD_AUTH_SECRET]")
}

// authMode says, for the summary, where the users' tokens came from.
func (a *authFlags) authMode() string {
	if a.secret != "" {
		return "signed"
	}
	return "sessions"
}

// check refuses a secret seatd would refuse too, before any request.
func (a *authFlags) check(cmd string) error {
	if a.secret != "" && len(a.secret) < auth.MinSecretBytes {
		return fmt.Errorf("%s: -auth-secret must be at least %d bytes, as seatd's SEATD_AUTH_SECRET, got %d", cmd, auth.MinSecretBytes, len(a.secret))
	}
	return nil
}

// newFlagSet returns a flag set that reports errors instead of exiting, so that
// run stays testable.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("seatload "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: seatload %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and refuses positional arguments, which are always a
// typo here (a flag value without its flag).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
