package redis

import (
	"context"
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
