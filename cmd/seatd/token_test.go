package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"

	"seatmanager/auth"
)

// testSecret signs the tests' tokens: every seatd a test starts verifies
// them (withAuth), so the suite runs with authentication on, as deployed.
const testSecret = "seatd-tests-secret-of-at-least-32-bytes"

// withAuth returns env with the tests' secret, unless env sets its own
// authentication.
func withAuth(env map[string]string) map[string]string {
	out := map[string]string{"SEATD_AUTH_SECRET": testSecret}
	for k, v := range env {
		out[k] = v
	}
	if _, set := env["SEATD_AUTH"]; set {
		if _, own := env["SEATD_AUTH_SECRET"]; !own {
			delete(out, "SEATD_AUTH_SECRET")
		}
	}
	return out
}

var (
	testIssuer = auth.NewIssuer([]byte(testSecret), time.Hour)
	tokens     sync.Map // user id → token
)

// tokenFor returns a token proving user, signed with the tests' secret.
func tokenFor(user string) string {
	if t, ok := tokens.Load(user); ok {
		return t.(string)
	}
	t, _, err := testIssuer.Issue(user)
	if err != nil {
		panic(err)
	}
	tokens.Store(user, t)
	return t
}

// authorize gives req the bearer token of the user its body or its query
// names (the tests name their users as the seed's API does).
func authorize(req *http.Request, body []byte) {
	var who struct {
		UserID string `json:"userId"`
	}
	if len(body) > 0 {
		json.Unmarshal(body, &who)
	}
	if who.UserID == "" {
		if q, err := url.ParseQuery(req.URL.RawQuery); err == nil {
			who.UserID = q.Get("userId")
		}
	}
	if who.UserID != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+tokenFor(who.UserID))
	}
}
