package redis

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/internal/testenv"
)

func TestEnableExpiryEvents(t *testing.T) {
	// A private server: this test changes its configuration.
	client := openClient(t, testenv.StartRedis(t).Addr())
	if err := client.ConfigSet(t.Context(), "notify-keyspace-events", "Kg").Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call finds nothing to do
		if err := EnableExpiryEvents(t.Context(), client); err != nil {
			t.Fatal(err)
		}
	}
	got := client.ConfigGet(t.Context(), "notify-keyspace-events").Val()["notify-keyspace-events"]
	for _, flag := range []string{"K", "g", "E", "x"} {
		if !strings.Contains(got, flag) {
			t.Errorf("notify-keyspace-events = %q, want it to keep K and g and add E and x", got)
		}
	}
}

// TestHoldKeysAndListener: a hold's key expires at the hold's expiry, and the
// listener hands over the tokens of expired hold keys of its prefix only.
func TestHoldKeysAndListener(t *testing.T) {
	client := openClient(t, testenv.StartRedis(t).Addr())
	if err := EnableExpiryEvents(t.Context(), client); err != nil {
		t.Fatal(err)
	}
	prefix := testenv.KeyPrefix(t)
	heard := make(chan string, 10)
	l := &Listener{Client: client, Prefix: prefix, Expired: func(_ context.Context, token string) { heard <- token }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	keys := NewHoldKeys(pipelined(t, client), prefix)
	far := booking.Hold{Token: booking.NewID(), ShowID: booking.NewID(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := keys.Schedule(t.Context(), far); err != nil {
		t.Fatal(err)
	}
	if ms := client.PTTL(t.Context(), prefix+"hold:"+far.Token).Val(); ms < 59*time.Minute || ms > time.Hour {
		t.Errorf("hold key ttl %v, want about an hour", ms)
	}
	// Subscriptions are asynchronous: schedule until the listener has heard one.
	soon := booking.Hold{Token: booking.NewID(), ShowID: far.ShowID}
	other := "other:" + booking.NewID()
	deadline := time.Now().Add(10 * time.Second)
	for {
		soon.ExpiresAt = time.Now().Add(20 * time.Millisecond)
		client.Set(t.Context(), other, "x", 10*time.Millisecond)
		if err := keys.Schedule(t.Context(), soon); err != nil {
			t.Fatal(err)
		}
		select {
		case token := <-heard:
			if token != soon.Token {
				t.Fatalf("heard %q, want only hold tokens of prefix %q (%s)", token, prefix, soon.Token)
			}
			return
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener heard no expiry within 10s")
		}
	}
}

// TestReapMakesExpiryPrompt: with Redis's own expiry cycle off (it samples, so
// a key among thousands with TTLs can wait seconds), Reap still has each hold
// key expire, and its event go out, within milliseconds of the hold's expiry.
func TestReapMakesExpiryPrompt(t *testing.T) {
	client := openClient(t, testenv.StartRedis(t).Addr())
	if err := EnableExpiryEvents(t.Context(), client); err != nil {
		t.Fatal(err)
	}
	if err := client.Do(t.Context(), "DEBUG", "SET-ACTIVE-EXPIRE", "0").Err(); err != nil {
		t.Fatal(err)
	}
	prefix := testenv.KeyPrefix(t)
	heard := make(chan string, 100)
	l := &Listener{Client: client, Prefix: prefix, Expired: func(_ context.Context, token string) { heard <- token }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	keys := NewHoldKeys(pipelined(t, client), prefix)
	reaped := make(chan struct{})
	go func() { keys.Reap(ctx, 10*time.Millisecond, slog.Default()); close(reaped) }()
	defer func() { cancel(); <-done; <-reaped }()
	// Subscriptions are asynchronous: schedule until the listener is on.
	deadline := time.Now().Add(10 * time.Second)
	for waiting := true; waiting; {
		probe := booking.Hold{Token: booking.NewID(), ExpiresAt: time.Now()}
		if err := keys.Schedule(t.Context(), probe); err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
			waiting = false
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no expiry heard within 10s")
			}
		}
	}
	var worst time.Duration
	for range 20 {
		h := booking.Hold{Token: booking.NewID(), ExpiresAt: time.Now().Add(30 * time.Millisecond)}
		if err := keys.Schedule(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		select {
		case token := <-heard:
			if token != h.Token {
				t.Fatalf("heard %s, want %s", token, h.Token)
			}
			worst = max(worst, time.Since(h.ExpiresAt))
		case <-time.After(5 * time.Second):
			t.Fatalf("hold key not expired 5s after its hold; active expiry is off, so Reap did not look it up")
		}
	}
	t.Logf("worst delay from a hold's expiry to its event: %v", worst)
	if worst > 100*time.Millisecond {
		t.Errorf("worst delay %v; want within 100ms", worst)
	}
	if n := client.ZCard(t.Context(), prefix+"hold-expiries").Val(); n != 0 {
		t.Errorf("the index still has %d holds that were reaped", n)
	}
}

// BenchmarkHoldKeys sets Schedule (the hold key and its entry in the index of
// expiries, in one script) against the plain SET … PXAT it replaced, on the
// shared Redis through the pipeliner, as seatd sends them.
func BenchmarkHoldKeys(b *testing.B) {
	client := openClient(b, testenv.RedisAddr(b))
	prefix := testenv.KeyPrefix(b)
	ap := pipelined(b, client)
	keys := NewHoldKeys(ap, prefix)
	b.Run("Schedule", func(b *testing.B) {
		for b.Loop() {
			h := booking.Hold{Token: booking.NewID(), ShowID: "show", ExpiresAt: time.Now().Add(time.Minute)}
			if err := keys.Schedule(b.Context(), h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SETOnly", func(b *testing.B) {
		for b.Loop() {
			if err := ap.Do(b.Context(), "SET", prefix+"hold:"+booking.NewID(), "show", "PXAT", time.Now().Add(time.Minute).UnixMilli()).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHoldKeysCancel: cancelling holds removes their keys and their entries
// in the index of expiries, and leaves other holds' alone.
func TestHoldKeysCancel(t *testing.T) {
	client := openClient(t, testenv.StartRedis(t).Addr())
	prefix := testenv.KeyPrefix(t)
	keys := NewHoldKeys(pipelined(t, client), prefix)
	var holds []booking.Hold
	for range 3 {
		h := booking.Hold{Token: booking.NewID(), ShowID: booking.NewID(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := keys.Schedule(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		holds = append(holds, h)
	}
	if err := keys.Cancel(t.Context(), []string{holds[0].Token, holds[1].Token}); err != nil {
		t.Fatal(err)
	}
	for i, h := range holds {
		exists := client.Exists(t.Context(), prefix+"hold:"+h.Token).Val() == 1
		_, err := client.ZScore(t.Context(), prefix+"hold-expiries", h.Token).Result()
		indexed := err == nil
		if want := i == 2; exists != want || indexed != want {
			t.Errorf("hold %d: key %v, in the index %v; want %v both", i, exists, indexed, want)
		}
	}
}
