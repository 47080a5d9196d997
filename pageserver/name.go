package pageserver

import "fmt"

// CheckName checks a checkpoint name: 1 to 64 letters, digits, dots,
// dashes and underscores, starting with a letter or digit (so that no
// name is "." or ".." or a hidden directory).
func CheckName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("checkpoint name %q: %d bytes, want 1 to %d: %w", name, len(name), maxNameLen, ErrBadName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '-' && c != '_')) {
			return fmt.Errorf("checkpoint name %q: byte %d not allowed: %w", name, i, ErrBadName)
		}
	}
	return nil
}
