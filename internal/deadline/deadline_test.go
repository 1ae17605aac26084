package deadline

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBound: a context ends no sooner than the bound after it was asked for,
// and no later than a tick after that (with slack for a busy machine).
func TestBound(t *testing.T) {
	const after = 100 * time.Millisecond
	s := New(after)
	asked := time.Now()
	ctx := s.Context()
	deadline, ok := ctx.Deadline()
	if !ok {
		t.Fatal("the context has no deadline")
	}
	if d := deadline.Sub(asked); d < after || d > after+after/ticks+10*time.Millisecond {
		t.Fatalf("deadline %v after it was asked for, want %v to %v", d, after, after+after/ticks)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * after):
		t.Fatalf("the context had not ended %v after its deadline", 10*after)
	}
	if ended := time.Since(asked); ended < after {
		t.Fatalf("the context ended after %v, before its bound of %v", ended, after)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want DeadlineExceeded", ctx.Err())
	}
}

// TestShared: calls within a tick share a context; a call a tick later gets a
// new one, which still has its whole bound.
func TestShared(t *testing.T) {
	const after = time.Second
	s := New(after)
	first := s.Context()
	if s.Context() != first {
		t.Fatal("two calls at once got different contexts")
	}
	time.Sleep(after/ticks + time.Millisecond) // past the tick, on purpose
	asked := time.Now()
	next := s.Context()
	if next == first {
		t.Fatal("a call a tick later got the old context")
	}
	if deadline, _ := next.Deadline(); deadline.Sub(asked) < after {
		t.Fatalf("the new context ends %v after it was asked for, want at least %v", deadline.Sub(asked), after)
	}
}

func BenchmarkContext(b *testing.B) {
	s := New(250 * time.Millisecond)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = s.Context().Done()
		}
	})
}

func BenchmarkWithTimeout(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), 250*time.Millisecond)
			_ = ctx.Done()
			cancel()
		}
	})
}
