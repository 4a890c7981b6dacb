package v1alpha1

import (
	"errors"
	"net/mail"
	"regexp"
	"strings"
)

// emailPattern is the CRD's rule for spec.admin.email (the CEL rule on
// AdminSpec.Email uses the same expression; RE2 semantics in both).
var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// ErrInvalidEmail is returned by ParseEmail.
var ErrInvalidEmail = errors.New("email must be a plain address such as admin@example.com (no display name or angle brackets)")

// ParseEmail is the one email rule of the REST API: a plain RFC 5322 address
// (net/mail, without a display name, angle brackets or comments) that the
// CRD's rule accepts as well, at most 254 characters. It returns the address
// lower-cased, the form under which admin emails are compared and stored.
// Whatever it accepts, the CRD accepts (tested, and fuzzed).
func ParseEmail(s string) (string, error) {
	if len(s) < 3 || len(s) > 254 {
		return "", ErrInvalidEmail
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s || !emailPattern.MatchString(s) {
		return "", ErrInvalidEmail
	}
	return strings.ToLower(addr.Address), nil
}
