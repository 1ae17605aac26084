package k6

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// provided lists what the shim gives each k6 module a script may import: the
// names of its exports (a default import or `* as` gets the whole module).
// A name missing here is refused when the script is translated, before any
// VU runs, so that a script using more of k6 than the shim knows fails loudly.
var provided = map[string][]string{
	"k6":         {"check", "fail", "sleep"},
	"k6/http":    {"del", "expectedStatuses", "get", "patch", "post", "put", "request", "setResponseCallback"},
	"k6/metrics": {"Counter"},
}

// defaultExport is the name the anonymous `export default function` gets.
const defaultExport = "__k6_default"

// The module lines translate one by one, each into one line, so that goja's
// line numbers in errors are the script's own.
var (
	ident         = `[A-Za-z_$][\w$]*`
	from          = `\s+from\s+(?:'([^']+)'|"([^"]+)")\s*;?\s*$`
	importDefault = regexp.MustCompile(`^import\s+(` + ident + `)` + from)
	importStar    = regexp.MustCompile(`^import\s+\*\s+as\s+(` + ident + `)` + from)
	importNamed   = regexp.MustCompile(`^import\s*\{([^}]*)\}` + from)
	importName    = regexp.MustCompile(`^(` + ident + `)(?:\s+as\s+(` + ident + `))?$`)
	exportDecl    = regexp.MustCompile(`^export\s+(const|let|var)\s+(` + ident + `)\s*=`)
	exportFunc    = regexp.MustCompile(`^export\s+function\s+(` + ident + `)\s*\(`)
	exportDefault = regexp.MustCompile(`^export\s+default\s+function\s*(` + ident + `)?\s*\(`)
	// moduleLine finds what is left: any line that still imports or exports.
	moduleLine = regexp.MustCompile(`^\s*(import|export)\b`)
)

// translated is a k6 script made into a plain script goja runs.
type translated struct {
	src     string            // the plain script, ending with a call of __k6_exports
	exports map[string]string // exported name ("default" too) → its binding in src
}

// translate turns the module lines of a k6 script into plain JavaScript: each
// import into a const bound to the module object the shim provides, each
// export into a plain declaration, and appends one line that hands the
// exports to __k6_exports. Any import or export line it does not understand is
// an error, as is an import of a module or name the shim does not provide.
func translate(src string) (translated, error) {
	lines := strings.Split(src, "\n")
	out := translated{exports: map[string]string{}}
	var errs []string
	for i, line := range lines {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Sprintf("line %d: %s: %s", i+1, fmt.Sprintf(format, args...), strings.TrimSpace(line)))
		}
		text := strings.TrimRight(line, "\r")
		var module string
		switch m := (match{}); {
		case m.find(importDefault, text), m.find(importStar, text):
			module = m.module()
			lines[i] = fmt.Sprintf("const %s = __k6_module(%q);", m.sub[1], module)
		case m.find(importNamed, text):
			module = m.module()
			var binds []string
			for name := range strings.SplitSeq(m.sub[1], ",") {
				name = strings.TrimSpace(name)
				if name == "" {
					continue
				}
				n := importName.FindStringSubmatch(name)
				if n == nil {
					bad("import %q is not a form the shim translates", name)
					continue
				}
				if _, ok := provided[module]; ok && !slices.Contains(provided[module], n[1]) {
					bad("the shim does not provide %s from %s", n[1], module)
				}
				if n[2] != "" {
					binds = append(binds, n[1]+": "+n[2])
				} else {
					binds = append(binds, n[1])
				}
			}
			lines[i] = fmt.Sprintf("const { %s } = __k6_module(%q);", strings.Join(binds, ", "), module)
		case m.find(exportDecl, text):
			lines[i] = strings.Replace(text, m.sub[0], m.sub[1]+" "+m.sub[2]+" =", 1)
			out.exports[m.sub[2]] = m.sub[2]
		case m.find(exportFunc, text):
			lines[i] = strings.Replace(text, m.sub[0], "function "+m.sub[1]+"(", 1)
			out.exports[m.sub[1]] = m.sub[1]
		case m.find(exportDefault, text):
			name := m.sub[1]
			if name == "" {
				name = defaultExport
			}
			lines[i] = strings.Replace(text, m.sub[0], "function "+name+"(", 1)
			out.exports["default"] = name
		case moduleLine.MatchString(text):
			bad("an import or export the shim does not translate")
			continue
		}
		if module != "" {
			if _, ok := provided[module]; !ok {
				bad("the shim does not provide the module %q", module)
			}
		}
	}
	if len(errs) > 0 {
		return translated{}, fmt.Errorf("translate the k6 script:\n\t%s", strings.Join(errs, "\n\t"))
	}
	names := make([]string, 0, len(out.exports))
	for name := range out.exports {
		names = append(names, name)
	}
	slices.Sort(names)
	var fields []string
	for _, name := range names {
		fields = append(fields, strconv.Quote(name)+": "+out.exports[name])
	}
	// A line of its own, after the script: the script's lines keep their numbers.
	out.src = strings.Join(lines, "\n") + "\n;__k6_exports({" + strings.Join(fields, ", ") + "});\n"
	return out, nil
}

// match holds the submatches of the last successful find; sub[0] is the
// whole match, which is what an export translation replaces.
type match struct{ sub []string }

func (m *match) find(re *regexp.Regexp, s string) bool {
	m.sub = re.FindStringSubmatch(s)
	return m.sub != nil
}

// module returns the module name of an import match: the last two groups
// are its single- and double-quoted forms.
func (m *match) module() string {
	return m.sub[len(m.sub)-2] + m.sub[len(m.sub)-1]
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    string // the translated lines, without the exports line
		exports map[string]string
		err     string // a substring of the error, if one is wanted
	}{
		{
			name: "the forms of hold_and_book.js",
			src: strings.Join([]string{
				`import http from 'k6/http';`,
				`import { check, fail, sleep } from 'k6';`,
				`import { Counter } from "k6/metrics"`,
				`export const options = {};`,
				`export function setup() {`,
				`export default function (data) {`,
				`export function teardown(data) {`,
			}, "\n"),
			want: strings.Join([]string{
				`const http = __k6_module("k6/http");`,
				`const { check, fail, sleep } = __k6_module("k6");`,
				`const { Counter } = __k6_module("k6/metrics");`,
				`const options = {};`,
				`function setup() {`,
				`function __k6_default(data) {`,
				`function teardown(data) {`,
			}, "\n"),
			exports: map[string]string{"options": "options", "setup": "setup", "default": defaultExport, "teardown": "teardown"},
		},
		{
			name:    "aliases, a namespace and a named default",
			src:     "import * as k6 from 'k6';\nimport { get as fetch } from 'k6/http';\nexport default function main() {",
			want:    "const k6 = __k6_module(\"k6\");\nconst { get: fetch } = __k6_module(\"k6/http\");\nfunction main() {",
			exports: map[string]string{"default": "main"},
		},
		{
			name:    "handleSummary",
			src:     "export function handleSummary(data) {",
			want:    "function handleSummary(data) {",
			exports: map[string]string{"handleSummary": "handleSummary"},
		},
		{name: "a module the shim lacks", src: "import exec from 'k6/execution';", err: `module "k6/execution"`},
		{name: "a local module", src: "import { helper } from './lib.js';", err: `module "./lib.js"`},
		{name: "a name the shim lacks", src: "import { check, group } from 'k6';", err: "does not provide group from k6"},
		{name: "a multi-line import", src: "import {\n  check,\n} from 'k6';", err: "line 1: an import or export the shim does not translate"},
		{name: "an export list", src: "function f() {}\nexport { f };", err: "line 2:"},
		{name: "an async default", src: "export default async function () {", err: "line 1:"},
		{name: "a default expression", src: "export default () => {};", err: "line 1:"},
		{name: "a mixed import", src: "import http, { get } from 'k6/http';", err: "line 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translate(tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("translate: error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			lines, _, _ := strings.Cut(got.src, "\n;__k6_exports(")
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("translated lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.exports, got.exports); diff != "" {
				t.Errorf("exports (-want +got):\n%s", diff)
			}
		})
	}
}
