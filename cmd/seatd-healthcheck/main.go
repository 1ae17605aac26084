// Command seatd-healthcheck asks a URL (seatd's /readyz) and exits 0 if it
// answers 200 within 2 s, else 1: a container health check for images that
// have no shell or curl.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: seatd-healthcheck URL")
		os.Exit(2)
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		os.Exit(1)
	}
}
