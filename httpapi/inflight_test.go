package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"seatmanager/booking"
	"seatmanager/httpapi"
	"seatmanager/internal/inflight"
	"seatmanager/memory"
)

// TestChangesCountedInFlight: a seat change counts as in flight from when it
// is routed until it is answered (the live seat maps wait on that count);
// a seat-map read does not count.
func TestChangesCountedInFlight(t *testing.T) {
	e := newEnv(t, booking.Config{})
	changes := inflight.New(0, 0)
	svc := booking.NewService(e.store, memory.NewGate(), nil, booking.Config{})
	srv := httptest.NewServer(runServer(t, httpapi.NewServer(svc, httpapi.Config{
		Ready: e.store.Ping, Receipts: e.store, Markers: memory.NewMarkers(0), InFlight: changes, Auth: testVerifier,
	})))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/seats/" + e.show.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if changes.Busy() != nil {
		t.Fatal("a seat-map read counted as a change in flight")
	}

	// A hold whose body is still on its way is in flight.
	body, send := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/seats/hold-bulk", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "in-flight")
	authorize(t, req, []byte(`{"userId":"alice"}`))
	answered := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	fmt.Fprintf(send, `{"seatIds":["%s"],`, e.seats[0])
	for deadline := time.Now().Add(5 * time.Second); changes.Busy() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a hold being received did not count as in flight within 5s")
		}
	}
	quiet := changes.Busy()
	fmt.Fprint(send, `"userId":"alice"}`)
	send.Close()
	if status := <-answered; status != http.StatusOK {
		t.Fatalf("hold answered %d, want 200", status)
	}
	select {
	case <-quiet:
	case <-time.After(5 * time.Second):
		t.Fatal("the answered hold still counts as in flight after 5s")
	}
}
