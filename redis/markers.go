package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/idempotency"
)

var _ idempotency.Markers = (*Markers)(nil)

// A mark is stored as one Redis string, its ttl the key's:
//
//	tag  len(lease) ':' lease  len(fingerprint) ':' fingerprint  response
//
// The tag is 'F' for a mark in flight and 'D' for a done one, the lengths are
// decimal byte counts, and the response runs to the end of the value (it is
// empty in flight, and never empty once done).
//
// One string rather than a hash, because then a mark and its ttl are written by
// one SET PX and read by one GET, and the scripts need not know the layout: the
// lengths make "tag + lease" an unambiguous prefix, so a script tells whether a
// mark is in flight under a lease by comparing the first bytes of the value with
// a prefix the Go side computed. A hash would need HSET and PEXPIRE (and an HDEL
// of a stale response) kept in step. Decimal lengths keep the value legible in
// redis-cli, and all of it is binary safe: the response is stored as it is.
const (
	tagInFlight = 'F'
	tagDone     = 'D'
)

// maxPlainID is the longest id used in a key as it is. Longer ids are replaced
// by their SHA-256, so that a key stays short whatever a caller passes.
const maxPlainID = 200

// completeScript replaces the key's mark with a done one if the key is empty or
// holds the in-flight mark of the completing lease; a mark another lease claimed
// since, and any done mark, stay as they are. GETRANGE reads just the prefix, so
// that a large stored answer is not copied to be compared. A value is never
// empty, so an empty range means no key.
//
// KEYS[1] is the mark's key; ARGV[1] the in-flight prefix of the lease, ARGV[2]
// the done mark, ARGV[3] the ttl in milliseconds. It returns 1 if it wrote.
var completeScript = goredis.NewScript(`
local head = redis.call('GETRANGE', KEYS[1], 0, #ARGV[1] - 1)
if head ~= '' and head ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// abandonScript deletes the key if it still holds the in-flight mark of the
// lease: compare and delete in one step, so that a mark another attempt claimed
// after the lease ran out is never deleted from under it.
//
// KEYS[1] is the mark's key; ARGV[1] the in-flight prefix of the lease. It
// returns 1 if it deleted.
var abandonScript = goredis.NewScript(`
if redis.call('GETRANGE', KEYS[1], 0, #ARGV[1] - 1) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// Markers is an idempotency.Markers shared by every seatd instance on one Redis:
// one string key per id, holding its mark, with the mark's ttl. Each call is one
// command or script, one round trip (a claim that finds a mark in flight, two).
type Markers struct {
	client Commander
	prefix string
}

// NewMarkers returns markers keeping their keys in client under prefix, which
// lets several deployments or tests share one Redis.
func NewMarkers(client Commander, prefix string) *Markers {
	return &Markers{client: client, prefix: prefix}
}

// key names id's key: prefix + "idem:" + id, or for an id longer than
// maxPlainID, prefix + "idem-sha256:" + the hex SHA-256 of id. The two forms
// differ before the id begins, so a short id can never name a long one's key.
func (m *Markers) key(id string) string {
	if len(id) <= maxPlainID {
		return m.prefix + "idem:" + id
	}
	sum := sha256.Sum256([]byte(id))
	return m.prefix + "idem-sha256:" + hex.EncodeToString(sum[:])
}

// Claim marks id as in flight under lease for leaseTTL and reports Claimed, if
// id has no mark (an expired one is gone); otherwise it returns the mark there.
//
// The claim is one SET NX GET, a plain command rather than a script: of many
// attempts racing for one id exactly one finds the key empty, and the others
// get the mark that is there in the same step. It costs Redis a fraction of a
// script's run, and every request makes one. Only a mark in flight needs a
// second round trip, for its remaining ttl; and a retried command of this very
// claim finds its own mark, which counts as claimed.
func (m *Markers) Claim(ctx context.Context, id, lease, fingerprint string, leaseTTL time.Duration) (idempotency.Mark, error) {
	if leaseTTL <= 0 {
		return idempotency.Mark{}, fmt.Errorf("claim idempotency mark %.80q: lease ttl %v is not positive", id, leaseTTL)
	}
	mark, err := m.setNX(ctx, m.key(id), encodeMark(tagInFlight, lease, fingerprint, nil), leaseTTL)
	switch {
	case err != nil:
		return idempotency.Mark{}, fmt.Errorf("claim idempotency mark %.80q in redis: %w", id, err)
	case mark.Claimed:
		return idempotency.Mark{Claimed: true, Fingerprint: fingerprint, LeaseLeft: leaseTTL}, nil
	}
	return mark, nil
}

// existing turns the mark another attempt left at key into a Mark, with the
// remaining ttl of one in flight.
func (m *Markers) existing(ctx context.Context, key, value string) (idempotency.Mark, error) {
	tag, _, fp, response, err := decodeMark(value)
	if err != nil {
		return idempotency.Mark{}, err
	}
	if tag == tagDone {
		return idempotency.Mark{Fingerprint: fp, Response: response}, nil
	}
	pttl, err := m.client.Do(ctx, "pttl", key).Int64()
	switch {
	case err != nil:
		return idempotency.Mark{}, err
	case pttl == -1:
		// Only a key changed by hand (PERSIST) lacks a ttl; such a mark would
		// turn every attempt away forever.
		return idempotency.Mark{}, fmt.Errorf("mark in flight has no ttl (PTTL %d)", pttl)
	}
	// A key in its last millisecond reads PTTL 0, and one that lapsed since
	// the SET reads -2: either way the next attempt may take over within a
	// millisecond.
	return idempotency.Mark{Fingerprint: fp, LeaseLeft: max(time.Duration(pttl)*time.Millisecond, time.Millisecond)}, nil
}

// Complete stores response as id's answer for ttl, if id has no mark or is in
// flight under lease; a mark another lease claimed since, or a done one, is left
// as it is. response must not be empty. It makes one round trip.
//
// It fails if ctx is done: a caller that completes after its request was
// cancelled should pass context.WithoutCancel with a deadline of its own.
func (m *Markers) Complete(ctx context.Context, id, lease, fingerprint string, response []byte, ttl time.Duration) error {
	if len(response) == 0 {
		return fmt.Errorf("complete idempotency mark %.80q: %w", id, idempotency.ErrEmptyResponse)
	}
	if ttl <= 0 {
		return fmt.Errorf("complete idempotency mark %.80q: ttl %v is not positive", id, ttl)
	}
	value := encodeMark(tagDone, lease, fingerprint, response)
	err := completeScript.Run(ctx, m.client, []string{m.key(id)}, inFlightPrefix(lease), value, milliseconds(ttl)).Err()
	if err != nil {
		return fmt.Errorf("complete idempotency mark %.80q in redis: %w", id, err)
	}
	return nil
}

// Record stores response as id's answer for ttl, if id has no mark; otherwise
// it returns the mark there, as Claim does. Like a claim it is one SET NX GET,
// a plain command: a refusal recorded this way costs Redis one command where
// a claim and a completion cost a command and a script. A retried command
// finds its own mark, which counts as recorded.
func (m *Markers) Record(ctx context.Context, id, lease, fingerprint string, response []byte, ttl time.Duration) (idempotency.Mark, error) {
	if len(response) == 0 {
		return idempotency.Mark{}, fmt.Errorf("record idempotency mark %.80q: %w", id, idempotency.ErrEmptyResponse)
	}
	if ttl <= 0 {
		return idempotency.Mark{}, fmt.Errorf("record idempotency mark %.80q: ttl %v is not positive", id, ttl)
	}
	key, value := m.key(id), encodeMark(tagDone, lease, fingerprint, response)
	mark, err := m.setNX(ctx, key, value, ttl)
	if err != nil {
		return idempotency.Mark{}, fmt.Errorf("record idempotency mark %.80q in redis: %w", id, err)
	}
	return mark, nil
}

// setNX sets key to value for ttl if key is unset, and reports Claimed;
// otherwise it returns the mark there. A key that holds value already was
// set by a retry of this very command.
func (m *Markers) setNX(ctx context.Context, key string, value []byte, ttl time.Duration) (idempotency.Mark, error) {
	old, err := m.client.Do(ctx, "set", key, value, "nx", "get", "px", milliseconds(ttl)).Text()
	switch {
	case errors.Is(err, goredis.Nil) || (err == nil && old == string(value)):
		return idempotency.Mark{Claimed: true}, nil
	case err != nil:
		return idempotency.Mark{}, err
	}
	return m.existing(ctx, key, old)
}

// Abandon removes id's mark if it is still in flight under lease. It makes one
// round trip.
//
// It fails if ctx is done: an attempt abandoned because its request was
// cancelled should pass context.WithoutCancel with a deadline of its own.
func (m *Markers) Abandon(ctx context.Context, id, lease string) error {
	if err := abandonScript.Run(ctx, m.client, []string{m.key(id)}, inFlightPrefix(lease)).Err(); err != nil {
		return fmt.Errorf("abandon idempotency mark %.80q in redis: %w", id, err)
	}
	return nil
}

// encodeMark lays a mark out as described at tagInFlight.
func encodeMark(tag byte, lease, fingerprint string, response []byte) []byte {
	b := make([]byte, 0, 1+2*(20+1)+len(lease)+len(fingerprint)+len(response))
	b = append(b, tag)
	b = appendField(b, lease)
	b = appendField(b, fingerprint)
	return append(b, response...)
}

// inFlightPrefix is how every in-flight mark of lease begins, and how no other
// mark does.
func inFlightPrefix(lease string) string {
	return string(appendField([]byte{tagInFlight}, lease))
}

func appendField(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// decodeMark reads a value encodeMark wrote. A value it cannot read is an error,
// never a guess: the key was written by something else.
func decodeMark(v string) (tag byte, lease, fingerprint string, response []byte, err error) {
	if v == "" || (v[0] != tagInFlight && v[0] != tagDone) {
		return 0, "", "", nil, fmt.Errorf("corrupt mark %.40q: unknown tag", v)
	}
	tag, rest := v[0], v[1:]
	if lease, rest, err = cutField(rest); err != nil {
		return 0, "", "", nil, fmt.Errorf("corrupt mark %.40q: lease: %w", v, err)
	}
	if fingerprint, rest, err = cutField(rest); err != nil {
		return 0, "", "", nil, fmt.Errorf("corrupt mark %.40q: fingerprint: %w", v, err)
	}
	switch {
	case tag == tagInFlight && rest != "":
		return 0, "", "", nil, fmt.Errorf("corrupt mark %.40q: response in flight", v)
	case tag == tagDone && rest == "":
		return 0, "", "", nil, fmt.Errorf("corrupt mark %.40q: done without a response", v)
	case tag == tagDone:
		response = []byte(rest)
	}
	return tag, lease, fingerprint, response, nil
}

// cutField reads one length-prefixed field off the front of s.
func cutField(s string) (field, rest string, err error) {
	digits, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("no length")
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || n > len(rest) || strconv.Itoa(n) != digits {
		return "", "", fmt.Errorf("bad length %.20q", digits)
	}
	return rest[:n], rest[n:], nil
}

// milliseconds converts ttl for PX, which counts whole milliseconds, rounding up
// so that a mark never lasts less than asked (and a sub-millisecond ttl is not
// sent as 0, which Redis refuses).
func milliseconds(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}
