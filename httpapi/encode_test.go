package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzDecode feeds request bodies to the decoder of hold and book requests: it
// must never panic, and it must either fill the request or say what is wrong
// with a 4xx problem.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"seatIds":["0192f0c4-3b8e-7a1c-9d2e-1f3a4b5c6d7e"],"userId":"u"}`,
		`{"seatIds":[],"userId":"u","holdToken":"x"}`, `{"SEATIDS":[1]}`, `{"userId":"a","userId":"b"}`,
		`[]`, `null`, `{`, `{"seatIds":"x"}`, `{} {}`, "", `{"seatIds":[` + string(bytes.Repeat([]byte(`"x",`), 100)) + `"x"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&holdRequest{}, &seatsRequest{}} {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			err := decode(httptest.NewRecorder(), r, 1<<10, v)
			if err != nil && (err.problem.status < 400 || err.problem.status > 499 || err.detail == "") {
				t.Fatalf("decode(%q): got problem %+v, want a 4xx with a detail", body, err)
			}
		}
	})
}

// TestCheckMembers: a member named twice or named in another case is
// refused, however its name is written.
func TestCheckMembers(t *testing.T) {
	names := map[string]bool{"seatIds": true, "userId": true}
	for body, want := range map[string]string{
		`{"seatIds":[],"userId":"u"}`:             "",
		`{"userId":"a","userId":"b"}`:             `field "userId" appears more than once`,
		`{"userId":"a","user\u0049d":"b"}`:        `field "userId" appears more than once`,
		`{"SeatIds":[]}`:                          `unknown field "SeatIds" (field names are case-sensitive)`,
		`{"seat\u0069ds":[]}`:                     `unknown field "seatids" (field names are case-sensitive)`,
		`{"userId":{"seatIds":1,"seatIds":2}}`:    "",
		` { "seatIds" : [ "a" , "b" ] , "x":1 } `: `unknown field "x" (field names are case-sensitive)`,
	} {
		got := ""
		if err := checkMembers([]byte(body), names); err != nil {
			got = err.detail
		}
		if got != want {
			t.Errorf("checkMembers(%s): got %q, want %q", body, got, want)
		}
	}
}
