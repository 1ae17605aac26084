// Package ratelimit limits how often one key (a client address, a user) may
// make requests: token buckets that hold Rate tokens and refill at Rate per
// Period. Local keeps the buckets in process; redis.RateLimiter shares them
// between seatd instances, and breaker.Limiter falls back from the one to the
// other, so a Redis outage loosens the limit to one per instance and never
// refuses a request by itself.
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxRate is the largest Rate ParseLimit accepts. A higher limit is no limit
// in practice, and refusing it catches a misplaced digit in the config.
const MaxRate = 1_000_000

// Limit is Rate requests per Period, in bursts of up to Rate: a key that has
// been quiet may spend its whole bucket at once, and then one request each
// Period/Rate. The zero Limit is no limit, so that a config can turn limiting
// off without a flag of its own.
type Limit struct {
	Rate   int
	Period time.Duration
}

// String formats l the way ParseLimit reads it ("20/s", "600/m", "off"), for
// logs and config dumps.
func (l Limit) String() string {
	if l.Rate == 0 {
		return "off"
	}
	unit := l.Period.String()
	switch l.Period {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.Itoa(l.Rate) + "/" + unit
}

// Validate reports an error if l cannot be enforced. ParseLimit never returns
// such a limit, but one built in code might, and the limiters answer it with
// this error rather than dividing by zero.
func (l Limit) Validate() error {
	if l.Rate < 0 || l.Rate > 0 && l.Period <= 0 {
		return fmt.Errorf("rate limit %d per %v: want a rate of 0 (off), or a positive rate and period", l.Rate, l.Period)
	}
	return nil
}

// errFormat explains the one format ParseLimit reads, so that a bad config
// value tells the operator what to write instead.
var errFormat = errors.New(`want N/s, N/m or N/h with N from 1 to 1000000 (like "20/s"), or "off" or "0" for no limit`)

// ParseLimit reads a limit from config: "N/s", "N/m" or "N/h" for N requests
// a second, minute or hour, and "off" or "0" for no limit. It is strict (no
// spaces, signs or other units), because a limit read wrongly is one nobody
// notices until it refuses customers.
func ParseLimit(s string) (Limit, error) {
	if s == "off" || s == "0" {
		return Limit{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	periods := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}
	period, known := periods[unit]
	if !ok || !known || n == "" || len(n) > 7 || strings.Trim(n, "0123456789") != "" {
		return Limit{}, fmt.Errorf("parse rate limit %q: %w", s, errFormat)
	}
	rate, err := strconv.Atoi(n)
	if err != nil || rate < 1 || rate > MaxRate {
		return Limit{}, fmt.Errorf("parse rate limit %q: %w", s, errFormat)
	}
	return Limit{Rate: rate, Period: period}, nil
}

// Decision is a limiter's answer to one request. RetryAfter is how long until
// the key may make one request again (0 when it is allowed), which the HTTP
// layer sends as Retry-After so clients back off instead of hammering.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration
}
