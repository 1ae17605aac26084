package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"seatmanager/booking"
	"seatmanager/web"
)

// openAPIFile is the document, as the repository has it.
const openAPIFile = "openapi.json"

// openAPI is the document every request of env.request, and its answer, is
// checked against: loaded once per test binary.
var openAPI = sync.OnceValues(func() (*openAPIDoc, error) {
	data, err := os.ReadFile(openAPIFile)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &openAPIDoc{doc: doc, router: router}, nil
})

type openAPIDoc struct {
	doc    *openapi3.T
	router routers.Router
}

// bearerOnly is the check of bearerAuth: a request that must carry a token
// carries one (whether the server accepts it is the server's to say).
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return errors.New("unknown security scheme " + in.SecuritySchemeName)
	}
	scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("no Authorization: Bearer token")
	}
	return nil
}

// refusedAsMalformed are the statuses a request the document rejects may be
// answered with: the server rejected it too, as malformed, unproven,
// unknown or not allowed. A test sends such requests on purpose (bad JSON,
// wrong types, no token, wrong content types); any other answer to a request
// the document rejects means the document and the server disagree.
var refusedAsMalformed = map[int]bool{
	http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusForbidden: true,
	http.StatusNotFound: true, http.StatusMethodNotAllowed: true, http.StatusRequestEntityTooLarge: true,
	http.StatusUnsupportedMediaType: true, http.StatusUpgradeRequired: true,
}

// checkOpenAPI fails the test unless req (with its body) and the answer res
// match the OpenAPI document: the answer always, the request unless the
// server refused it as malformed.
func checkOpenAPI(tb testing.TB, req *http.Request, res response) {
	tb.Helper()
	oa, err := openAPI()
	if err != nil {
		tb.Fatalf("OpenAPI document %s: %v", openAPIFile, err)
	}
	ctx := req.Context()
	where := req.Method + " " + req.URL.RequestURI() + " → " + strconv.Itoa(res.status)
	route, params, err := oa.router.FindRoute(req)
	if err != nil {
		// No operation of the document: the server must say so, as a problem.
		if res.status != http.StatusNotFound && res.status != http.StatusMethodNotAllowed {
			tb.Errorf("%s: the OpenAPI document has no such operation (%v), yet the server answered", where, err)
			return
		}
		if err := oa.checkProblem(res); err != nil {
			tb.Errorf("%s: answer does not match the OpenAPI document's Problem: %v", where, err)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && !refusedAsMalformed[res.status] {
		tb.Errorf("%s: request does not match the OpenAPI document: %v", where, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.status, Header: res.header,
		Body:    io.NopCloser(bytes.NewReader(res.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Errorf("%s: answer does not match the OpenAPI document: %v; body %s", where, err, clip(res.body))
	}
}

// checkProblem checks an answer the router has no operation for: the mux's
// 404 or 405, as a problem.
func (oa *openAPIDoc) checkProblem(res response) error {
	if mt, _, _ := mime.ParseMediaType(res.header.Get("Content-Type")); mt != "application/problem+json" {
		return errors.New("Content-Type " + res.header.Get("Content-Type") + ", want application/problem+json")
	}
	if res.status == http.StatusMethodNotAllowed && res.header.Get("Allow") == "" {
		return errors.New("a 405 without Allow")
	}
	var v any
	if err := json.Unmarshal(res.body, &v); err != nil {
		return err
	}
	return oa.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestOpenAPIDocument: the document is valid OpenAPI, is served byte for
// byte, and has every route of routes.go, and no route that is not.
func TestOpenAPIDocument(t *testing.T) {
	oa, err := openAPI()
	if err != nil {
		t.Fatalf("OpenAPI document %s: %v", openAPIFile, err)
	}
	if oa.doc.OpenAPI != "3.1.0" {
		t.Errorf("got openapi %q, want 3.1.0", oa.doc.OpenAPI)
	}

	e := newEnv(t, booking.Config{})
	r := e.do(t, http.MethodGet, "/api/openapi.json", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	want, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, want) {
		t.Errorf("GET /api/openapi.json served %d bytes that are not %s (%d bytes)", len(r.body), openAPIFile, len(want))
	}

	routes := registeredRoutes(t)
	if len(routes) < 10 {
		t.Fatalf("found only %d routes in routes.go: %v", len(routes), routes)
	}
	documented := map[string]bool{}
	for path, item := range oa.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, route := range routes {
		if !documented[route] {
			t.Errorf("route %q of routes.go is not in %s", route, openAPIFile)
		}
		delete(documented, route)
	}
	for route := range documented {
		t.Errorf("%s documents %q, which routes.go does not register", openAPIFile, route)
	}
}

// registeredRoutes reads the route patterns routes.go registers (through
// s.mux.Handle, s.mux.HandleFunc and s.change), as "METHOD /path" with
// OpenAPI's paths: constants are resolved in the package's source, and
// the ranging over web.Patterns() takes its patterns.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	consts := map[string]string{}
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	var routesFile *ast.File
	for name, f := range files {
		if name == "routes.go" {
			routesFile = f
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
	}
	if routesFile == nil {
		t.Fatal("no routes.go")
	}
	ranged := map[string][]string{} // range variables over web.Patterns()
	var patterns []string
	var routesFunc ast.Node
	for _, d := range routesFile.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "routes" {
			routesFunc = fn
		}
	}
	if routesFunc == nil {
		t.Fatal("routes.go has no func routes")
	}
	ast.Inspect(routesFunc, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.RangeStmt:
			if call, ok := n.X.(*ast.CallExpr); ok && exprString(call.Fun) == "web.Patterns" {
				if v, ok := n.Value.(*ast.Ident); ok {
					ranged[v.Name] = web.Patterns()
				}
			}
		case *ast.CallExpr:
			switch exprString(n.Fun) {
			case "s.mux.Handle", "s.mux.HandleFunc", "s.change":
			default:
				return true
			}
			switch arg := n.Args[0].(type) {
			case *ast.BasicLit:
				p, _ := strconv.Unquote(arg.Value)
				patterns = append(patterns, p)
			case *ast.Ident:
				if p, ok := consts[arg.Name]; ok {
					patterns = append(patterns, p)
				} else if ps, ok := ranged[arg.Name]; ok {
					patterns = append(patterns, ps...)
				} else {
					t.Errorf("%s: cannot resolve the route pattern %s", fset.Position(arg.Pos()), arg.Name)
				}
			default:
				t.Errorf("%s: cannot read the route pattern", fset.Position(arg.Pos()))
			}
		}
		return true
	})
	var out []string
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("route pattern %q has no method", p)
			continue
		}
		// ServeMux's {$} (this path exactly) is what an OpenAPI path always means.
		out = append(out, method+" "+strings.TrimSuffix(path, "{$}"))
	}
	slices.Sort(out)
	return out
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return ""
}
