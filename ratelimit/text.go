package ratelimit

// MarshalText formats l as ParseLimit reads it, so that a Limit can be a
// flag (flag.TextVar).
func (l Limit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads l as ParseLimit does.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
