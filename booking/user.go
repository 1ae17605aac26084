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
