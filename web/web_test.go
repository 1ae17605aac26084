package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		ctype    string   // wanted Content-Type prefix; empty: not checked
		contains []string // wanted substrings of the body
	}{
		{"page", "GET", "/", http.StatusOK, "text/html", []string{`src="/app.js"`, `href="/style.css"`, `id="seat-grid"`}},
		{"script", "GET", "/app.js", http.StatusOK, "text/javascript", []string{"function applySeatMap("}},
		{"styles", "GET", "/style.css", http.StatusOK, "text/css", []string{".seat"}},
		{"head", "HEAD", "/", http.StatusOK, "text/html", nil},
		{"unknown path", "GET", "/nope", http.StatusNotFound, "", nil},
		{"index.html is not a second name", "GET", "/index.html", http.StatusNotFound, "", nil},
		{"post", "POST", "/", http.StatusMethodNotAllowed, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("%s %s: got status %d, want %d", tt.method, tt.path, rec.Code, tt.status)
			}
			if rec.Code != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.ctype) {
				t.Errorf("Content-Type: got %q, want prefix %q", got, tt.ctype)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control: got %q, want %q", got, "no-cache")
			}
			if got := rec.Header().Get("ETag"); got == "" {
				t.Errorf("ETag: got none, want one")
			}
			body := rec.Body.String()
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body of %s: got no %q, want it", tt.path, s)
				}
			}
		})
	}
}

// TestHandlerRevalidates checks that no-cache stays cheap: a browser that sends
// back the ETag gets a 304 with no body.
func TestHandlerRevalidates(t *testing.T) {
	first := httptest.NewRecorder()
	Handler().ServeHTTP(first, httptest.NewRequest("GET", "/app.js", nil))
	req := httptest.NewRequest("GET", "/app.js", nil)
	req.Header.Set("If-None-Match", first.Header().Get("ETag"))
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("got status %d, want %d", rec.Code, http.StatusNotModified)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("got %d body bytes, want none", rec.Body.Len())
	}
}

// TestPatterns registers Handler the way the router should and checks that the
// page does not swallow paths that are not its own.
func TestPatterns(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range Patterns() {
		mux.Handle(p, Handler())
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for path, want := range map[string]int{
		"/":            http.StatusOK,
		"/app.js":      http.StatusOK,
		"/style.css":   http.StatusOK,
		"/api/nothing": http.StatusNotFound,
		"/nope":        http.StatusNotFound,
	} {
		t.Run(path, func(t *testing.T) {
			res, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if _, err := io.Copy(io.Discard, res.Body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != want {
				t.Errorf("GET %s: got status %d, want %d", path, res.StatusCode, want)
			}
		})
	}
}

// routes are the API paths of httpapi/routes.go the page may call; "/api/seats/"
// is the prefix of GET /api/seats/{showId}.
var routes = []string{
	"/api/seats/shows",
	"/api/seats/",
	"/api/seats/hold-bulk",
	"/api/seats/book-bulk",
	"/api/seats/release-bulk",
	"/api/holds/",
	"/api/sessions",
	"/api/bookings",
}

// TestScriptUsesRealRoutes fails on a typo in an API path of app.js: every quoted
// string there that starts with /api/ must be a real route, and the page must
// still call each of them.
func TestScriptUsesRealRoutes(t *testing.T) {
	src, err := files.ReadFile("app.js")
	if err != nil {
		t.Fatal(err)
	}
	// Any quote style, so a path moved into a template literal is checked too.
	quoted := regexp.MustCompile("[\"'`](/api[^\"'`]*)[\"'`]")
	var used []string
	for _, m := range quoted.FindAllStringSubmatch(string(src), -1) {
		used = append(used, m[1])
		if !slices.Contains(routes, m[1]) {
			t.Errorf("app.js uses %q: got an unknown API path, want one of %q", m[1], routes)
		}
	}
	for _, r := range routes {
		if !slices.Contains(used, r) {
			t.Errorf("app.js: got no use of %q, want the page to call it", r)
		}
	}
	// A path built some other way ("/api" + "/seats") would dodge the check above.
	if n := strings.Count(string(src), "/api"); n != len(used) {
		t.Errorf("app.js mentions /api %d times, %d of them as whole quoted paths; want every mention a whole path", n, len(used))
	}
}
