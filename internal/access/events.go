package access

// Event reasons of an OrganizationAccess.
const (
	// EventCredentialsRotated: the Secret holds a new user and password.
	EventCredentialsRotated = "CredentialsRotated"
	// EventUserRetired: the user a rotation replaced was dropped after the grace period.
	EventUserRetired = "UserRetired"
	// EventUsersDropped: the access lost its users (deleted, no longer allowed, organization gone).
	EventUsersDropped = "UsersDropped"
	// EventIsolationNotEnforced: the server has no custom roles (Warning).
	EventIsolationNotEnforced = "IsolationNotEnforced"
)
