package mongostore

import (
	"fmt"
	"strings"
)

// ReservedCollections are the collections the operator keeps its own
// records in; no tenant and no shared collection may use their names.
var ReservedCollections = []string{AdminsCollection, SessionsCollection, RefreshUsesCollection, LoginAttemptsCollection, LedgerCollection}

// ValidateDatabaseName checks a database name against MongoDB's rules, and
// refuses MongoDB's own databases.
func ValidateDatabaseName(name string) error {
	switch {
	case name == "" || len(name) > 63:
		return fmt.Errorf("database name %q must have 1 to 63 characters", name)
	case strings.ContainsAny(name, "/\\. \"$*<>:|?\x00"):
		return fmt.Errorf("database name %q must not contain any of / \\ . space \" $ * < > : | ?", name)
	case name == "admin" || name == "local" || name == "config":
		return fmt.Errorf("database name %q is one of MongoDB's own databases", name)
	}
	return nil
}

// ValidateCollectionName checks a collection name the operator is
// configured with: MongoDB's rules, not a system collection, not one of the
// operator's own (ReservedCollections), and not starting with any of
// forbiddenPrefixes (the dedicated tenant collections').
func ValidateCollectionName(name string, forbiddenPrefixes ...string) error {
	switch {
	case name == "" || len(name) > 120:
		return fmt.Errorf("collection name %q must have 1 to 120 characters", name)
	case strings.ContainsAny(name, "$\x00"):
		return fmt.Errorf("collection name %q must not contain $ or NUL", name)
	case strings.HasPrefix(name, "system."):
		return fmt.Errorf("collection name %q is a system collection", name)
	}
	for _, r := range ReservedCollections {
		if name == r {
			return fmt.Errorf("collection name %q is one the operator keeps its own records in", name)
		}
	}
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("collection name %q starts like a tenant's dedicated collection (%s...)", name, p)
		}
	}
	return nil
}
