package httpapi

import (
	_ "embed"
	"fmt"
	"net/http"
)

// openAPI is the OpenAPI 3.1 document of every route (routes.go), served as
// is at GET /api/openapi.json. The tests check each answer of the API against
// it, so it says what the code does.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI serves the document: needing no caller and no rate limit, as
// documentation for anyone about to call the API.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(openAPI)))
	w.Write(openAPI)
}
