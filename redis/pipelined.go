package redis

import (
	"context"
	"errors"
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
	// The deferred face, whose futures can be waited for under a context.
	ap, err := c.AsyncAutoPipeline()
	if err != nil {
		return nil, err
	}
	return autoPipeline{ap}, nil
}

type autoPipeline struct{ ap *goredis.AutoPipeliner }

func (p autoPipeline) Do(ctx context.Context, args ...any) *goredis.Cmd {
	return run(ctx, p.ap, func() *goredis.Cmd { return goredis.NewCmd(ctx, args...) })
}

func (p autoPipeline) Eval(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return run(ctx, p.ap, func() *goredis.Cmd { return goredis.NewCmd(ctx, evalArgs("eval", script, keys, args)...) })
}

func (p autoPipeline) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return run(ctx, p.ap, func() *goredis.Cmd { return goredis.NewCmd(ctx, evalArgs("evalsha", sha1, keys, args)...) })
}

func (p autoPipeline) EvalRO(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return run(ctx, p.ap, func() *goredis.Cmd { return goredis.NewCmd(ctx, evalArgs("eval_ro", script, keys, args)...) })
}

func (p autoPipeline) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return run(ctx, p.ap, func() *goredis.Cmd { return goredis.NewCmd(ctx, evalArgs("evalsha_ro", sha1, keys, args)...) })
}

func (p autoPipeline) ScriptExists(ctx context.Context, hashes ...string) *goredis.BoolSliceCmd {
	return run(ctx, p.ap, func() *goredis.BoolSliceCmd {
		args := []any{"script", "exists"}
		for _, h := range hashes {
			args = append(args, h)
		}
		return goredis.NewBoolSliceCmd(ctx, args...)
	})
}

func (p autoPipeline) ScriptLoad(ctx context.Context, script string) *goredis.StringCmd {
	return run(ctx, p.ap, func() *goredis.StringCmd { return goredis.NewStringCmd(ctx, "script", "load", script) })
}

// evalArgs lays out an EVAL-family command as go-redis does for scalar
// arguments, which are all this package passes: go-redis would also flatten a
// slice or map argument, which this does not.
func evalArgs(name, script string, keys []string, args []any) []any {
	out := make([]any, 0, 3+len(keys)+len(args))
	out = append(out, name, script, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return append(out, args...)
}

// run submits the command newCmd makes and waits for it, or for ctx. If ctx
// ends first, the submitted command is left to its batch, which may still be
// filling it in, and a second one carries ctx's error instead.
func run[C goredis.Cmder](ctx context.Context, ap *goredis.AutoPipeliner, newCmd func() C) C {
	cmd := newCmd()
	if err := ap.Submit(ctx, cmd).WaitContext(ctx); err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		late := newCmd()
		late.SetErr(err)
		return late
	}
	return cmd
}
