package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Timeouts of the clients Open returns. They are short because the gate is only
// an accelerator standing in front of every hold: when Redis is gone or stuck, the
// Service bypasses it and lets the database decide, but it can only do that once a
// call has failed. Every millisecond a dead Redis is waited for is a millisecond
// added to a buyer's request, so the client gives up quickly and does not retry
// much. A healthy Redis on the same network answers in well under a millisecond,
// so these leave a wide margin for GC pauses and busy moments.
const (
	// dialTimeout bounds a TCP (and TLS) connect to an unreachable host, which
	// would otherwise hang until the kernel gives up, minutes later.
	dialTimeout = 250 * time.Millisecond
	// ioTimeout bounds each command's write and read, for a Redis that accepts
	// connections but does not answer (stopped, swapping, failing over).
	ioTimeout = 250 * time.Millisecond
	// poolTimeout bounds the wait for a free connection when every pooled one is
	// busy: past it the gate is overloaded, and waiting would only queue buyers.
	poolTimeout = 200 * time.Millisecond
	// maxRetries allows one retry, which covers a pooled connection that died with
	// a Redis restart; more would multiply the time lost to an outage. The gate's
	// scripts are safe to run twice: acquiring under the same token again only
	// refreshes, and releasing twice deletes nothing more.
	maxRetries = 1
	// maxRetryBackoff keeps the pause before that retry short.
	maxRetryBackoff = 50 * time.Millisecond
	// dialerRetries is the number of connect attempts per new connection; go-redis
	// would otherwise try five times, 100 ms apart, before reporting a refused
	// connection, which turns "Redis is down" into half a second per request.
	dialerRetries = 1
)

// Open connects to the Redis at redisURL (redis://, rediss:// for TLS, or unix://; the
// path or db parameter selects the database), pings it once within ctx and returns
// the client. Timeouts the URL sets (dial_timeout, read_timeout, write_timeout,
// pool_timeout, max_retries) are kept; the others get the short defaults above.
//
// The client honours context deadlines, so a caller can bound any call more
// tightly still. Its read timeout suits request and response commands; a blocking
// command (BLPOP, XREAD BLOCK) needs a client with a longer one. Pub/sub is not
// affected: go-redis waits for messages without a read timeout.
func Open(ctx context.Context, redisURL string) (goredis.UniversalClient, error) {
	client, err := NewClient(redisURL)
	if err != nil {
		return nil, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		opt := client.Options()
		return nil, fmt.Errorf("open redis at %s db %d: ping: %w", opt.Addr, opt.DB, err)
	}
	return client, nil
}

// NewClient is Open without the ping: the client connects when first used. A
// server that keeps working while Redis is away starts with it. options adjust
// the client's options last.
func NewClient(redisURL string, options ...func(*goredis.Options)) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		// The URL may hold a password, and url.Parse quotes the URL in its errors:
		// keep only what went wrong.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("open redis: parse url: %w", err)
	}
	withDefaults(opt, options)
	return goredis.NewClient(opt), nil
}

// withDefaults gives opt the short defaults above where it sets none, then
// applies options.
func withDefaults(opt *goredis.Options, options []func(*goredis.Options)) {
	if opt.DialTimeout == 0 {
		opt.DialTimeout = dialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = ioTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = ioTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = poolTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = maxRetries
	}
	if opt.MaxRetryBackoff == 0 {
		opt.MaxRetryBackoff = maxRetryBackoff
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = dialerRetries
	}
	opt.ContextTimeoutEnabled = true
	for _, o := range options {
		o(opt)
	}
}

// Sentinels is where a Redis primary watched by Sentinel is found.
type Sentinels struct {
	Addrs  []string // host:port of each sentinel
	Master string   // the name the sentinels monitor it by
	// Username and Password authenticate to the primary and its replicas;
	// SentinelPassword to the sentinels. TLS, if set, is used for both.
	Username, Password, SentinelPassword string
	TLS                                  *tls.Config
	DB                                   int
}

// NewFailoverClient is NewClient for a primary found through Sentinel: the
// client asks the sentinels where the primary is, follows them when they
// promote a replica (closing its connections to the old one, pub/sub ones
// included, which reconnect and resubscribe to the new). Of what options
// set, the timeouts, retries, credentials, TLS, database and OnConnect are
// carried over (OnConnect runs on sentinel connections too).
func NewFailoverClient(s Sentinels, options ...func(*goredis.Options)) (*goredis.Client, error) {
	if len(s.Addrs) == 0 || s.Master == "" {
		return nil, errors.New("open redis: sentinel addresses and a master name are both needed")
	}
	opt := &goredis.Options{Username: s.Username, Password: s.Password, DB: s.DB, TLSConfig: s.TLS}
	withDefaults(opt, options)
	return goredis.NewFailoverClient(&goredis.FailoverOptions{
		MasterName: s.Master, SentinelAddrs: s.Addrs, SentinelPassword: s.SentinelPassword,
		Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
		OnConnect:   opt.OnConnect,
		DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
		PoolTimeout: opt.PoolTimeout, MaxRetries: opt.MaxRetries, MaxRetryBackoff: opt.MaxRetryBackoff,
		DialerRetries: opt.DialerRetries, ContextTimeoutEnabled: opt.ContextTimeoutEnabled,
	}), nil
}
