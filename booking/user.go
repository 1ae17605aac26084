package booking

// MaxUserIDLen bounds user ids: they are stored with every hold and booking.
const MaxUserIDLen = 128

// ValidUserID reports whether id can name a user: 1 to MaxUserIDLen letters,
// digits, or any of "._-@:". The set is narrow on purpose: ids end up in logs,
// database rows and Redis keys.
func ValidUserID(id string) bool {
	if len(id) == 0 || len(id) > MaxUserIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-', c == '@', c == ':':
		default:
			return false
		}
	}
	return true
}

// CheckUserID returns an ErrInvalid error saying what is wrong with id, or nil.
func CheckUserID(id string) error {
	switch {
	case id == "":
		return Invalidf("userId is required")
	case !ValidUserID(id):
		return Invalidf("userId must be 1 to %d letters, digits or any of ._-@:", MaxUserIDLen)
	}
	return nil
}
