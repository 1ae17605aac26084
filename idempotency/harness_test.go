package idempotency_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"seatmanager/idempotency"
	"seatmanager/memory"
	"seatmanager/sqlite"
)

// harness wraps a test handler in the middleware, over a real SQLite store and
// in-process markers. Failures are answered with the error's text and a status
// per error, so tests can see which rule fired.
//
// The handler runs as a change does: once it has claimed the request's key
// (idempotency.Claim), which it is refused while another attempt of the key
// is in flight or has answered. runs counts the handler's runs.
type harness struct {
	mux   *http.ServeMux
	store *sqlite.Store
	runs  atomic.Int64
	// answersFirst runs the handler without a claim before it, as a request
	// answered before any change was to be made: the middleware claims the
	// key, or records the answer, after it. Set it before the first request.
	answersFirst bool
}

func newHarness(t *testing.T, handler http.HandlerFunc, lease time.Duration) *harness {
	t.Helper()
	return newHarnessWith(t, handler, lease, memory.NewMarkers(0))
}

// newHarnessWith is newHarness over the given markers. Its options change the
// middleware's Config.
func newHarnessWith(t *testing.T, handler http.HandlerFunc, lease time.Duration, markers idempotency.Markers, options ...func(*idempotency.Config)) *harness {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "seatd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h := &harness{mux: http.NewServeMux(), store: store}
	cfg := idempotency.Config{
		Receipts: store, Markers: markers, LeaseTTL: lease,
		Scope: func(r *http.Request, body []byte) (string, error) {
			if u := r.Header.Get("X-User"); u != "" {
				return u, nil
			}
			return "", errors.New("anonymous")
		},
		Fail: func(w http.ResponseWriter, r *http.Request, err error) {
			var inUse *idempotency.InUseError
			switch {
			case errors.As(err, &inUse):
				w.Header().Set("Retry-After", inUse.RetryAfter.String())
				http.Error(w, err.Error(), http.StatusConflict)
			case errors.Is(err, idempotency.ErrKeyReused):
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			default:
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
		},
	}
	for _, o := range options {
		o(&cfg)
	}
	m := idempotency.New(cfg)
	h.mux.Handle("POST /do", m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.answersFirst {
			if err := idempotency.Claim(r); err != nil {
				http.Error(w, err.Error(), http.StatusConflict) // the middleware answers instead
				return
			}
		}
		h.runs.Add(1)
		handler(w, r)
	})))
	return h
}

func (h *harness) post(key, user, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/do", strings.NewReader(body))
	req.Header.Set("Idempotency-Key", key)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	rec := httptest.NewRecorder()
	h.mux.ServeHTTP(rec, req)
	return rec
}
