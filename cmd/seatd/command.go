package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"seatmanager/booking"
	"seatmanager/httpapi"
)

// runCommand runs what follows seatd's flags instead of serving:
//
//	seatd shows create layout.json [more.json …]
//
// makes a show of each layout file (the JSON of POST /api/shows), in the
// database the flags and environment name, checked as the API checks them;
// it prints each show's id and seat count.
func runCommand(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	args := cfg.Args
	if len(args) < 3 || args[0] != "shows" || args[1] != "create" {
		return fmt.Errorf("unexpected arguments %q: the one command is \"shows create LAYOUT.json…\"", args)
	}
	// Every file is read and checked before the database is touched.
	layouts := make([]booking.Layout, 0, len(args)-2)
	for _, path := range args[2:] {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		l, err := httpapi.ReadLayout(data)
		if err == nil {
			_, err = l.ShowOf(booking.NewID(), time.Now(), cfg.MaxShowSeats)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		layouts = append(layouts, l)
	}
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := booking.NewService(store, nil, nil, booking.Config{MaxShowSeats: cfg.MaxShowSeats, Logger: log})
	var errs []error
	for i, l := range layouts {
		show, err := svc.CreateShow(ctx, l, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", args[2+i], err))
			continue
		}
		fmt.Fprintf(stdout, "%s\t%d seats\t%s\t%s\n", show.ID, show.SeatsTotal, show.MovieTitle, args[2+i])
	}
	return errors.Join(errs...)
}
