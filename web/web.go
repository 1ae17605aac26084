// Package web is the seat-map page seatd serves to people: one HTML file, one
// script and one style sheet, embedded in the binary so a deploy is one file and
// the page always matches the API it was built with. It has no build step and
// loads nothing from other origins.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed index.html app.js style.css
var files embed.FS

// asset is one embedded file as it is served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets maps each URL path Handler serves to its file. The types are set here
// rather than sniffed or guessed from the extension, because the system's MIME
// table differs between machines and a script served as text/plain is refused.
var assets = map[string]asset{
	"/":          load("index.html", "text/html; charset=utf-8"),
	"/app.js":    load("app.js", "text/javascript; charset=utf-8"),
	"/style.css": load("style.css", "text/css; charset=utf-8"),
}

func load(name, contentType string) asset {
	b, err := files.ReadFile(name)
	if err != nil {
		// The go:embed line above guarantees the file; failing here is a build mistake.
		panic("web: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Patterns returns the ServeMux patterns to register Handler under: the page at
// exactly "/" ("GET /{$}", not "GET /", which would also catch every unknown path
// such as /api/nothing and answer it with the page instead of a 404) and the two
// assets at their exact paths. A new slice each call, so no caller can change
// another's routes.
func Patterns() []string {
	return []string{"GET /{$}", "GET /app.js", "GET /style.css"}
}

// Handler serves the page at "/" and its assets at "/app.js" and "/style.css",
// and answers 404 for any other path. Each file goes out with Cache-Control:
// no-cache and a content-hash ETag: browsers revalidate on each load, so a new deploy
// shows up at once, yet an unchanged file costs only a 304.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	// The page needs nothing from elsewhere, so a strict policy costs nothing and
	// blunts any injected markup; 'self' also covers the same-origin live
	// socket. data: images allow the empty favicon that spares a request for /favicon.ico.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	// ServeContent answers If-None-Match with 304 and handles HEAD and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
