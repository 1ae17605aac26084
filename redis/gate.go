// Package redis holds the adapters that let many seatd instances share state
// through Redis. Redis only accelerates: everything here may fail, forget or lag,
// and the database still decides every seat correctly.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"seatmanager/booking"
)

var _ booking.Gate = (*Gate)(nil)

// acquireScript takes every seat key for a token, or none. Checking and setting in
// one script is what makes it all-or-nothing: Redis runs a script without
// interleaving other commands, so no other request can take a seat between the
// check and the set.
//
// KEYS are the seat keys; ARGV[1] is the token, ARGV[2] the ttl in milliseconds.
// For each key another token holds, in KEYS order, it returns three values:
// the key's 1-based index, the token holding it and its remaining ttl in
// milliseconds; and it sets nothing if there are any. A key the token already
// holds is set again, which refreshes its ttl.
var acquireScript = goredis.NewScript(`
local taken = {}
for i, key in ipairs(KEYS) do
	local owner = redis.call('GET', key)
	if owner and owner ~= ARGV[1] then
		taken[#taken + 1] = i
		taken[#taken + 1] = owner
		taken[#taken + 1] = redis.call('PTTL', key)
	end
end
if #taken > 0 then
	return taken
end
for _, key in ipairs(KEYS) do
	redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return taken
`)

// releaseScript deletes each seat key whose value is still the token: compare and
// delete in one step, so that a key that lapsed and was taken by another token in
// between is never deleted from under it. It returns how many keys it deleted.
//
// KEYS are the seat keys; ARGV[1] is the token.
var releaseScript = goredis.NewScript(`
local n = 0
for _, key in ipairs(KEYS) do
	if redis.call('GET', key) == ARGV[1] then
		redis.call('DEL', key)
		n = n + 1
	end
end
return n
`)

// Gate is a booking.Gate shared by every seatd instance on one Redis: one string
// key per held seat, whose value is the hold token and whose ttl is the hold's.
type Gate struct {
	client Commander
	prefix string
}

// NewGate returns a gate keeping its keys in client under prefix, which lets
// several deployments or tests share one Redis. The prefix must not contain '{',
// or the hash tag that keeps a request's keys in one cluster slot would be lost.
func NewGate(client Commander, prefix string) *Gate {
	return &Gate{client: client, prefix: prefix}
}

// key names a seat's key. The show id is the hash tag, so that all the seats of
// one request, which are all of one show, land in one Redis Cluster slot and one
// script can touch them all.
func (g *Gate) key(showID, seatID string) string {
	return g.prefix + "{" + showID + "}:seat:" + seatID
}

func (g *Gate) keys(showID string, seatIDs []string) []string {
	keys := make([]string, len(seatIDs))
	for i, id := range seatIDs {
		keys[i] = g.key(showID, id)
	}
	return keys
}

// Acquire takes every seat for token until ttl passes, or none of them, and
// returns in request order the claims other tokens have. It makes one round
// trip to Redis; holding a seat again under the same token resets its ttl. A
// claim's age is read from its remaining ttl, as if it had been set with ttl.
func (g *Gate) Acquire(ctx context.Context, showID, token string, seatIDs []string, ttl time.Duration) ([]booking.Claim, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("acquire seats of show %s: ttl %v is not positive", showID, ttl)
	}
	if len(seatIDs) == 0 {
		return nil, nil
	}
	// PX counts whole milliseconds; round up, so a hold never lasts less than asked.
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	res, err := acquireScript.Run(ctx, g.client, g.keys(showID, seatIDs), token, int64(ms)).Slice()
	if err != nil {
		return nil, fmt.Errorf("acquire %d seats of show %s in redis: %w", len(seatIDs), showID, err)
	}
	claims, err := parseClaims(res, seatIDs, ttl)
	if err != nil {
		return nil, fmt.Errorf("acquire seats of show %s in redis: %w", showID, err)
	}
	return claims, nil
}

// parseClaims reads acquireScript's reply.
func parseClaims(res []any, seatIDs []string, ttl time.Duration) ([]booking.Claim, error) {
	if len(res)%3 != 0 {
		return nil, fmt.Errorf("script returned %d values, want triples", len(res))
	}
	claims := make([]booking.Claim, 0, len(res)/3)
	for i := 0; i < len(res); i += 3 {
		idx, ok1 := res[i].(int64)
		owner, ok2 := res[i+1].(string)
		pttl, ok3 := res[i+2].(int64)
		if !ok1 || !ok2 || !ok3 || idx < 1 || int(idx) > len(seatIDs) {
			return nil, fmt.Errorf("script returned %v, want (index of %d keys, token, ttl)", res[i:i+3], len(seatIDs))
		}
		claims = append(claims, booking.Claim{
			SeatID: seatIDs[idx-1], Token: owner, Age: max(ttl-time.Duration(pttl)*time.Millisecond, 0),
		})
	}
	return claims, nil
}

// Release gives back the seats that token still holds, in one round trip; seats
// another token took since are left alone.
func (g *Gate) Release(ctx context.Context, showID, token string, seatIDs []string) error {
	if len(seatIDs) == 0 {
		return nil
	}
	if err := releaseScript.Run(ctx, g.client, g.keys(showID, seatIDs), token).Err(); err != nil {
		return fmt.Errorf("release %d seats of show %s in redis: %w", len(seatIDs), showID, err)
	}
	return nil
}
