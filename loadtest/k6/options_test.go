package k6

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// parseOptions reads the options the shim runs by; any other option is an
// error, since the shim would otherwise ignore what it changes.
func parseOptions(val goja.Value) (options, error) {
	var o options
	if val == nil || goja.IsUndefined(val) {
		// k6 without options: one VU, one iteration.
		o.scenarios = []scenario{{name: "default", exec: "default", vus: 1, iterations: 1,
			maxDuration: defaultMaxDuration, gracefulStop: defaultGracefulStop}}
		return o, nil
	}
	raw, ok := val.Export().(map[string]any)
	if !ok {
		return o, fmt.Errorf("options is not an object: %v", val)
	}
	for k := range raw {
		if k != "scenarios" && k != "thresholds" {
			return o, fmt.Errorf("options.%s is not supported by the k6 shim", k)
		}
	}
	scenarios, ok := raw["scenarios"].(map[string]any)
	if !ok || len(scenarios) == 0 {
		return o, errors.New("options.scenarios: the k6 shim needs at least one scenario")
	}
	for _, name := range slices.Sorted(maps.Keys(scenarios)) {
		s, err := parseScenario(name, scenarios[name])
		if err != nil {
			return o, err
		}
		o.scenarios = append(o.scenarios, s)
	}
	if raw["thresholds"] != nil {
		ths, ok := raw["thresholds"].(map[string]any)
		if !ok {
			return o, fmt.Errorf("options.thresholds is not an object")
		}
		for _, key := range slices.Sorted(maps.Keys(ths)) {
			list, ok := ths[key].([]any)
			if !ok {
				return o, fmt.Errorf("options.thresholds[%q]: not an array of threshold strings", key)
			}
			for _, e := range list {
				expr, ok := e.(string)
				if !ok {
					return o, fmt.Errorf("options.thresholds[%q]: %v is not a threshold string the k6 shim understands", key, e)
				}
				th, err := parseThreshold(key, expr)
				if err != nil {
					return o, err
				}
				o.thresholds = append(o.thresholds, th)
			}
		}
	}
	return o, nil
}

// parseScenario reads one per-vu-iterations scenario.
func parseScenario(name string, val any) (scenario, error) {
	s := scenario{name: name, exec: "default", vus: 1, iterations: 1, maxDuration: defaultMaxDuration, gracefulStop: defaultGracefulStop}
	raw, ok := val.(map[string]any)
	if !ok {
		return s, fmt.Errorf("scenario %s: not an object", name)
	}
	if raw["executor"] != "per-vu-iterations" {
		return s, fmt.Errorf("scenario %s: executor %v is not supported by the k6 shim (only per-vu-iterations)", name, raw["executor"])
	}
	for k, v := range raw {
		var err error
		switch k {
		case "executor":
		case "vus":
			s.vus, err = positive(v)
		case "iterations":
			s.iterations, err = positive(v)
		case "maxDuration":
			s.maxDuration, err = duration(v)
		case "gracefulStop":
			s.gracefulStop, err = duration(v)
		case "exec":
			var ok bool
			if s.exec, ok = v.(string); !ok {
				err = fmt.Errorf("%v is not a function name", v)
			}
		default:
			err = errors.New("not supported by the k6 shim")
		}
		if err != nil {
			return s, fmt.Errorf("scenario %s: %s: %w", name, k, err)
		}
	}
	return s, nil
}

func positive(v any) (int, error) {
	var f float64
	switch n := v.(type) {
	case int64:
		f = float64(n)
	case float64:
		f = n
	default:
		return 0, fmt.Errorf("%v is not a number", v)
	}
	if f < 1 || f != math.Trunc(f) || f > 1e6 {
		return 0, fmt.Errorf("%v is not a positive integer", v)
	}
	return int(f), nil
}

// duration reads a k6 duration option: a string ("2m", "1m30s") or milliseconds.
func duration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case string:
		return time.ParseDuration(d)
	case int64:
		return time.Duration(d) * time.Millisecond, nil
	case float64:
		return time.Duration(d * float64(time.Millisecond)), nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

func TestParseOptions(t *testing.T) {
	for _, tt := range []struct{ name, options, err string }{
		{"another executor", `{ scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s' } } }`, "executor constant-vus"},
		{"an unknown option", `{ discardResponseBodies: true, scenarios: { s: { executor: 'per-vu-iterations' } } }`, "options.discardResponseBodies"},
		{"an unknown scenario field", `{ scenarios: { s: { executor: 'per-vu-iterations', startTime: '1s' } } }`, "startTime"},
		{"no scenarios", `{ vus: 10 }`, "options.vus"},
		{"a threshold object", `{ scenarios: { s: { executor: 'per-vu-iterations' } }, thresholds: { checks: [{ threshold: 'rate==1', abortOnFail: true }] } }`, "not a threshold string"},
		{"a missing exec", `{ scenarios: { s: { executor: 'per-vu-iterations', exec: 'buy' } } }`, "exports no function buy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runScript(t.Context(), "test.js", "export const options = "+tt.options+";\nexport default function () {}\n", nil)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}
