package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
)

// Expiry notices through Redis: every hold gets a key that Redis deletes when
// the hold lapses, and every seatd instance listens for those deletions on the
// keyspace-event channel, so a lapsed hold is released within milliseconds by
// whichever instance hears first, even if the one that made it has died.

// HoldKeys is a booking.Scheduler that gives each hold a key expiring with it.
type HoldKeys struct {
	client Commander
	prefix string
}

var _ booking.Scheduler = (*HoldKeys)(nil)

// NewHoldKeys returns hold keys kept in client under prefix.
func NewHoldKeys(client Commander, prefix string) *HoldKeys {
	return &HoldKeys{client: client, prefix: prefix}
}

// scheduleScript sets a hold's key to expire at the hold's expiry (PXAT, so
// that the time is absolute and an extension simply moves it), and files the
// hold in the index of expiries that Reap reads.
var scheduleScript = goredis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1`)

// reapScript looks up every hold key whose expiry has come, by the index:
// looking up an expired key deletes it at once, and Redis publishes its
// expired event then. Left to itself, Redis finds expired keys by sampling
// twenty keys with a TTL at a time, ten times a second: among thousands of
// other keys with TTLs (cached answers, gate keys) a hold key can wait
// seconds. Redis's clock decides what is due, as it does for the keys; a key
// still there (its expiry is this very millisecond: a script sees the time it
// started at) stays in the index for the next look.
var reapScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 500)
local gone = {}
for _, token in ipairs(due) do
  if redis.call('EXISTS', ARGV[1] .. token) == 0 then
    gone[#gone + 1] = token
  end
end
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
end
return #gone`)

// Schedule gives the hold a key that expires with it.
func (k *HoldKeys) Schedule(ctx context.Context, h booking.Hold) error {
	at := h.ExpiresAt.UnixMilli()
	err := scheduleScript.Run(ctx, k.client, []string{k.prefix + "hold:" + h.Token, k.index()}, h.ShowID, at, h.Token).Err()
	if err != nil {
		return fmt.Errorf("schedule expiry of hold %s: %w", h.Token, err)
	}
	return nil
}

// cancelScript deletes the keys of holds that ended and takes them out of
// the index of expiries: KEYS are the hold keys, then the index; ARGV the
// tokens.
var cancelScript = goredis.NewScript(`
local index = table.remove(KEYS)
redis.call('DEL', unpack(KEYS))
redis.call('ZREM', index, unpack(ARGV))
return 1`)

// Cancel removes the keys of holds that ended before they lapsed, so that no
// expiry event asks the database to release them.
func (k *HoldKeys) Cancel(ctx context.Context, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tokens)+1)
	args := make([]any, len(tokens))
	for i, t := range tokens {
		keys = append(keys, k.prefix+"hold:"+t)
		args[i] = t
	}
	if err := cancelScript.Run(ctx, k.client, append(keys, k.index()), args...).Err(); err != nil {
		return fmt.Errorf("cancel expiry of %d holds: %w", len(tokens), err)
	}
	return nil
}

func (k *HoldKeys) index() string { return k.prefix + "hold-expiries" }

// Reap makes the hold keys whose expiry has come expire now, every interval
// until ctx ends, so that their expired events go out within interval (see
// reapScript). Every instance reaps; a key expires once, whoever looks first.
//
// The script reads hold keys it does not declare in KEYS: fine on one
// primary (with or without Sentinel), not on Redis Cluster.
func (k *HoldKeys) Reap(ctx context.Context, interval time.Duration, log *slog.Logger) {
	wait := interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := reapScript.Run(ctx, k.client, []string{k.index()}, k.prefix+"hold:").Err()
		switch {
		case err == nil:
			wait = interval
		case ctx.Err() != nil:
			return
		default:
			if wait == interval {
				// Once per outage: the sweep still releases what lapses meanwhile.
				log.Warn("reap lapsed hold keys in redis; trying again less often until it answers", "err", err)
			}
			wait = min(2*wait, time.Second) // an outage costs a timeout a second, not a hundred
		}
	}
}

// configurer is a client or a single connection.
type configurer interface {
	ConfigGet(ctx context.Context, parameter string) *goredis.MapStringStringCmd
	ConfigSet(ctx context.Context, parameter, value string) *goredis.StatusCmd
}

// EnableExpiryEvents makes Redis publish key expirations (notify-keyspace-events
// E and x), keeping whatever else is enabled. Managed Redis services often
// forbid CONFIG; their operators must set it themselves.
func EnableExpiryEvents(ctx context.Context, client configurer) error {
	flags, err := expiryFlags(ctx, client)
	if err != nil {
		return err
	}
	want := flags
	if !strings.Contains(want, "E") {
		want += "E"
	}
	if !strings.Contains(want, "x") && !strings.Contains(want, "A") {
		want += "x"
	}
	if want == flags {
		return nil
	}
	if err := client.ConfigSet(ctx, "notify-keyspace-events", want).Err(); err != nil {
		return fmt.Errorf("set notify-keyspace-events %q: %w", want, err)
	}
	return nil
}

// ExpiryEventsEnabled reports whether Redis publishes key expirations.
func ExpiryEventsEnabled(ctx context.Context, client configurer) (bool, error) {
	flags, err := expiryFlags(ctx, client)
	return strings.Contains(flags, "E") && (strings.Contains(flags, "x") || strings.Contains(flags, "A")), err
}

func expiryFlags(ctx context.Context, client configurer) (string, error) {
	cur, err := client.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return "", fmt.Errorf("read notify-keyspace-events: %w", err)
	}
	return cur["notify-keyspace-events"], nil
}

// KeepExpiryEvents makes a client enable expiry events on every connection it
// opens: a Redis that restarted has forgotten them, and the listener would
// otherwise hear nothing until seatd restarts too.
func KeepExpiryEvents(log *slog.Logger) func(*goredis.Options) {
	return func(o *goredis.Options) {
		o.OnConnect = func(ctx context.Context, cn *goredis.Conn) error {
			// A failover client runs the hook on its sentinel connections
			// too; sentinels have no keys and no CONFIG.
			if role, err := cn.Do(ctx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "sentinel" {
				return nil
			}
			if err := EnableExpiryEvents(ctx, cn); err != nil {
				log.Warn("cannot enable Redis expiry events; lapsed holds wait for their timers or the sweep", "err", err)
			}
			return nil // a connection is still worth having
		}
	}
}

// Listener hears Redis delete expired hold keys and hands their tokens on.
type Listener struct {
	Client goredis.UniversalClient
	DB     int    // the database whose events to hear
	Prefix string // of the hold keys
	// Expired is called, from Run's goroutine, with each lapsed hold's token.
	Expired func(ctx context.Context, token string)
	Logger  *slog.Logger
}

// Run listens until ctx is done. go-redis reconnects and resubscribes by
// itself; notices that fall into a disconnection are lost, and the sweep
// releases those holds instead.
func (l *Listener) Run(ctx context.Context) error {
	keyPrefix := l.Prefix + "hold:"
	return subscribe(ctx, l.Client, "__keyevent@"+strconv.Itoa(l.DB)+"__:expired", func(payload string) {
		if token, ok := strings.CutPrefix(payload, keyPrefix); ok {
			l.Expired(ctx, token)
		}
	})
}

// subscribe calls fn with each message's payload on channel until ctx is
// done. go-redis reconnects and resubscribes by itself; the messages that
// fall into a disconnection are lost, which every subscriber here can afford.
func subscribe(ctx context.Context, client goredis.UniversalClient, channel string, fn func(payload string)) error {
	sub := client.Subscribe(ctx, channel)
	defer sub.Close()
	msgs := sub.Channel(goredis.WithChannelHealthCheckInterval(5 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				return nil
			}
			fn(msg.Payload)
		}
	}
}
