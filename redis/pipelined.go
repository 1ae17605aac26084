package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// Commander is what the gate, the markers and the hold keys need of a Redis
// client: scripts and plain commands. A *goredis.Client is one; seatd gives them
// the client's automatic pipeliner (see Pipelined).
type Commander interface {
	goredis.Scripter
	Do(ctx context.Context, args ...any) *goredis.Cmd
}

// Pipelined returns a Commander that sends the commands concurrent requests
// issue while a round trip is under way together, in the next one, through
// client's automatic pipeliner. In a storm every request makes two or three
// calls to Redis (claim its idempotency marker, ask the gate, record its
// answer); at one round trip each, their system calls were about a third of
// seatd's CPU. A lone command still goes out at once.
//
// The pipeliner runs its batches on a context of its own and ignores the
// callers' (go-redis documents this), while the Service bounds every gate call
// by its GateTimeout: a Redis that stops answering must cost a request that
// timeout, not the client's whole read timeout and retry. So each call waits
// for its command or its context, whichever ends first; a command left behind
// still ends within the client's own timeouts.
func Pipelined(client goredis.UniversalClient) (Commander, error) {
	c, ok := client.(*goredis.Client)
	if !ok {
		return nil, fmt.Errorf("redis: automatic pipelining needs a *redis.Client, got %T", client)
	}
	ap, err := c.AutoPipeline()
	if err != nil {
		return nil, err
	}
	return autoPipeline{ap}, nil
}

type autoPipeline struct{ ap *goredis.AutoPipeliner }

func (p autoPipeline) Do(ctx context.Context, args ...any) *goredis.Cmd {
	return await(ctx, func() *goredis.Cmd { return p.ap.Do(ctx, args...) },
		func() *goredis.Cmd { return goredis.NewCmd(ctx, args...) })
}

func (p autoPipeline) Eval(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return await(ctx, func() *goredis.Cmd { return p.ap.Eval(ctx, script, keys, args...) },
		func() *goredis.Cmd { return goredis.NewCmd(ctx, "eval") })
}

func (p autoPipeline) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return await(ctx, func() *goredis.Cmd { return p.ap.EvalSha(ctx, sha1, keys, args...) },
		func() *goredis.Cmd { return goredis.NewCmd(ctx, "evalsha") })
}

func (p autoPipeline) EvalRO(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return await(ctx, func() *goredis.Cmd { return p.ap.EvalRO(ctx, script, keys, args...) },
		func() *goredis.Cmd { return goredis.NewCmd(ctx, "eval_ro") })
}

func (p autoPipeline) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return await(ctx, func() *goredis.Cmd { return p.ap.EvalShaRO(ctx, sha1, keys, args...) },
		func() *goredis.Cmd { return goredis.NewCmd(ctx, "evalsha_ro") })
}

func (p autoPipeline) ScriptExists(ctx context.Context, hashes ...string) *goredis.BoolSliceCmd {
	return await(ctx, func() *goredis.BoolSliceCmd { return p.ap.ScriptExists(ctx, hashes...) },
		func() *goredis.BoolSliceCmd { return goredis.NewBoolSliceCmd(ctx, "script", "exists") })
}

func (p autoPipeline) ScriptLoad(ctx context.Context, script string) *goredis.StringCmd {
	return await(ctx, func() *goredis.StringCmd { return p.ap.ScriptLoad(ctx, script) },
		func() *goredis.StringCmd { return goredis.NewStringCmd(ctx, "script", "load") })
}

// await runs call and returns its command, or, if ctx ends first, a command
// made by empty that carries ctx's error.
func await[C goredis.Cmder](ctx context.Context, call func() C, empty func() C) C {
	if ctx.Done() == nil { // no deadline, no cancel: nothing to race
		return call()
	}
	done := make(chan C, 1)
	go func() { done <- call() }()
	select {
	case cmd := <-done:
		return cmd
	case <-ctx.Done():
		cmd := empty()
		cmd.SetErr(ctx.Err())
		return cmd
	}
}
