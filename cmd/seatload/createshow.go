package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"seatmanager/auth"
)

const pathCreateShow = "/api/shows"

// createShowTimeout bounds the one POST /api/shows: seatd gives the route a
// minute to write a stadium's seats, longer than any seat change's deadline.
const createShowTimeout = 90 * time.Second

// seatdMaxBody is seatd's bound on request bodies (httpapi's default, which
// seatd does not configure): a layout must fit in it.
const seatdMaxBody = 64 << 10

// createShowConfig is the flags of create-show.
type createShowConfig struct {
	common
	authFlags
	seats      int
	rowSeats   int
	name       string
	auditorium string
	startsIn   time.Duration
}

func parseCreateShow(args []string, getenv func(string) string, stderr io.Writer) (createShowConfig, error) {
	var cfg createShowConfig
	fs := newFlagSet("create-show", "Creates one show of -seats seats through the operator API (POST /api/shows), laid\n"+
		"out as rows of -row-seats (A, B, …, Z, AA, AB, …; the last row takes the rest), and prints\n"+
		"its id. The operator routes need the admin role, which only a token signed with seatd's\n"+
		"secret can carry: -auth-secret is required.", stderr)
	cfg.common.register(fs)
	cfg.authFlags.register(fs, getenv)
	fs.IntVar(&cfg.seats, "seats", 60_000, "seats of the show (at most seatd's SEATD_MAX_SHOW_SEATS, 100 000 by default)")
	fs.IntVar(&cfg.rowSeats, "row-seats", 100, "seats per row")
	fs.StringVar(&cfg.name, "name", "seatload stadium", "the show's movie title")
	fs.StringVar(&cfg.auditorium, "auditorium", "seatload arena", "the show's auditorium")
	fs.DurationVar(&cfg.startsIn, "starts-in", 30*24*time.Hour, "how long from now the show starts")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.seats < 1:
		return cfg, fmt.Errorf("create-show: -seats must be at least 1, got %d", cfg.seats)
	case cfg.rowSeats < 1:
		return cfg, fmt.Errorf("create-show: -row-seats must be at least 1, got %d", cfg.rowSeats)
	case cfg.name == "":
		return cfg, fmt.Errorf("create-show: -name must not be empty")
	case cfg.auditorium == "":
		return cfg, fmt.Errorf("create-show: -auditorium must not be empty")
	case cfg.startsIn < time.Minute:
		return cfg, fmt.Errorf("create-show: -starts-in must be at least a minute (a show starting in the past is refused), got %s", cfg.startsIn)
	case cfg.secret == "":
		return cfg, fmt.Errorf("create-show: -auth-secret (or SEATLOAD_AUTH_SECRET) is required: POST /api/shows needs a token with the admin role, " +
			"which seatload signs with seatd's SEATD_AUTH_SECRET (a guest session has no roles)")
	}
	return cfg, cfg.check("create-show")
}

// layoutBody is the body of POST /api/shows. Its rows are the compact form
// of a layout: a label and a seat count each, not one entry per seat.
type layoutBody struct {
	MovieTitle string    `json:"movieTitle"`
	StartsAt   time.Time `json:"startsAt"`
	Auditorium string    `json:"auditorium"`
	Rows       []rowBody `json:"rows"`
}

type rowBody struct {
	Label string `json:"label"`
	Seats int    `json:"seats"`
}

// stadiumLayout lays seats out in rows of rowSeats, front to back.
func stadiumLayout(name, auditorium string, startsAt time.Time, seats, rowSeats int) layoutBody {
	l := layoutBody{MovieTitle: name, StartsAt: startsAt.UTC().Truncate(time.Second), Auditorium: auditorium}
	for left := seats; left > 0; left -= rowSeats {
		l.Rows = append(l.Rows, rowBody{Label: rowLabel(len(l.Rows)), Seats: min(left, rowSeats)})
	}
	return l
}

// rowLabel names row i (from 0) as a spreadsheet names columns: A … Z, AA …
// AZ, BA …. Letters only, so that a seat's label (row, then number) never
// takes seatd's dash and no two rows make the same seat label.
func rowLabel(i int) string {
	var b []byte
	for i++; i > 0; i = (i - 1) / 26 {
		b = append(b, byte('A'+(i-1)%26))
	}
	slices.Reverse(b)
	return string(b)
}

// createShowResult is create-show's JSON output.
type createShowResult struct {
	ShowID     string  `json:"showId"`
	Seats      int     `json:"seats"`
	Rows       int     `json:"rows"`
	MovieTitle string  `json:"movieTitle"`
	BodyBytes  int     `json:"bodyBytes"`
	Seconds    float64 `json:"seconds"` // the POST's latency: what seatd took to write the seats
}

// runCreateShow makes one show from a generated layout, as an operator.
func runCreateShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseCreateShow(args, getenv, stderr)
	if err != nil {
		return err
	}
	layout := stadiumLayout(cfg.name, cfg.auditorium, time.Now().Add(cfg.startsIn), cfg.seats, cfg.rowSeats)
	body, err := json.Marshal(layout)
	if err != nil {
		return fmt.Errorf("create-show: encode the layout: %w", err)
	}
	if len(body) > seatdMaxBody {
		return fmt.Errorf("create-show: the layout of %d rows is %d bytes, over seatd's %d-byte body limit: use more seats per row (-row-seats)",
			len(layout.Rows), len(body), seatdMaxBody)
	}
	token, _, err := auth.NewIssuer([]byte(cfg.secret), signedTokenTTL).Issue("seatload-operator-"+newRunID(), auth.RoleAdmin)
	if err != nil {
		return fmt.Errorf("create-show: sign the operator's token: %w", err)
	}
	operator := &user{name: "operator", token: token}

	cl := newClient(cfg.url, 1)
	defer cl.close()
	cl.http.Timeout = createShowTimeout
	cl.http.Transport.(*http.Transport).ResponseHeaderTimeout = createShowTimeout

	var created show
	start := time.Now()
	a := cl.post(ctx, nil, "shows", pathCreateShow, operator, layout, &created)
	took := time.Since(start)
	switch {
	case a.status == http.StatusCreated && a.err == nil:
	case a.status == http.StatusUnauthorized:
		return fmt.Errorf("create-show: POST %s: %v (is -auth-secret seatd's SEATD_AUTH_SECRET? a secret seatd keeps in its database signs guests only)", pathCreateShow, a)
	case a.status == http.StatusForbidden:
		return fmt.Errorf("create-show: POST %s: %v (seatd needs SEATD_AUTH=on for the operator routes)", pathCreateShow, a)
	default:
		return fmt.Errorf("create-show: POST %s: %v", pathCreateShow, a)
	}
	if created.ID == "" || created.SeatsTotal != cfg.seats || created.SeatsAvailable != cfg.seats {
		return fmt.Errorf("create-show: POST %s answered a show with id %q, %d seats, %d available; want an id and %d seats, all available",
			pathCreateShow, created.ID, created.SeatsTotal, created.SeatsAvailable, cfg.seats)
	}
	res := createShowResult{ShowID: created.ID, Seats: created.SeatsTotal, Rows: len(layout.Rows), MovieTitle: created.MovieTitle,
		BodyBytes: len(body), Seconds: took.Seconds()}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	// The id alone on stdout, for ID=$(seatload create-show …); the rest for people.
	fmt.Fprintf(stderr, "created show %q: %d seats in %d rows of up to %d (a %d-byte layout) in %s\n",
		res.MovieTitle, res.Seats, res.Rows, cfg.rowSeats, res.BodyBytes, took.Round(time.Millisecond))
	fmt.Fprintln(stdout, res.ShowID)
	return nil
}
