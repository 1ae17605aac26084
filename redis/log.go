package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// LogTo sends go-redis's own log lines (one per failed dial, for instance) to log
// at debug level. go-redis otherwise prints them to stderr, and during a Redis
// outage that is a line per request: the Service already logs the outage once.
// go-redis keeps its logger in a package variable, so this affects the process.
func LogTo(log *slog.Logger) {
	goredis.SetLogger(slogPrintf{log})
}

type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
