package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"seatmanager/auth"
)

// secretName is the name seatd keeps its own token secret under.
const secretName = "auth-hs256"

// openAuth returns the verifier of bearer tokens and the issuer of guest
// sessions, either nil when off. The HS256 secret is SEATD_AUTH_SECRET, or,
// unless only a login's public keys are to be trusted, one seatd makes on
// its first start and keeps in the database: guest tokens outlive restarts,
// and every instance accepts the others'.
func openAuth(ctx context.Context, cfg Config, s store, log *slog.Logger) (*auth.Verifier, *auth.Issuer, error) {
	if !cfg.Auth {
		log.Warn("AUTHENTICATION IS OFF (SEATD_AUTH=off): any client can act as any user by naming it in the body's userId; " +
			"run like this only behind a gateway that authenticates callers and sets userId itself")
		return nil, nil, nil
	}
	var public []auth.PublicKey
	if cfg.AuthPublicKeys != "" {
		data, err := os.ReadFile(cfg.AuthPublicKeys)
		if err != nil {
			return nil, nil, fmt.Errorf("auth public keys: %w", err)
		}
		if public, err = auth.ParsePublicKeys(data); err != nil {
			return nil, nil, fmt.Errorf("auth public keys %s: %w", cfg.AuthPublicKeys, err)
		}
	}
	var secret []byte
	kept := false
	switch {
	case cfg.AuthSecret != "":
		secret = []byte(cfg.AuthSecret)
	case cfg.AuthGuests || len(public) == 0:
		var err error
		if secret, err = s.KeepSecret(ctx, secretName, auth.NewSecret()); err != nil {
			return nil, nil, err
		}
		kept = true
	}
	v, err := auth.NewVerifier(secret, public)
	if err != nil {
		return nil, nil, err
	}
	if kept {
		// Whoever reads the database reads this secret: it may prove
		// guests, never an operator or a login's user.
		v.GuestsOnly()
	}
	v.ForLogin(auth.LoginClaims{Issuer: cfg.AuthIssuer, Audience: cfg.AuthAudience})
	var issuer *auth.Issuer
	if cfg.AuthGuests {
		issuer = auth.NewIssuer(secret, cfg.GuestTTL)
	}
	log.Info("bearer tokens required", "hs256", secret != nil, "hs256_guests_only", kept, "public_keys", len(public),
		"issuer", cfg.AuthIssuer, "audience", cfg.AuthAudience, "guest_sessions", cfg.AuthGuests)
	return v, issuer, nil
}
