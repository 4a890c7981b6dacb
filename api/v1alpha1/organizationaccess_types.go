package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessRole is what an application may do with its organization's documents.
// +kubebuilder:validation:Enum=ReadWrite;Read
type AccessRole string

const (
	// AccessReadWrite reads and writes documents (and, in a dedicated
	// collection, manages its indexes).
	AccessReadWrite AccessRole = "ReadWrite"
	// AccessRead only reads documents.
	AccessRead AccessRole = "Read"
)

// Isolation says what MongoDB itself enforces for an access user.
type Isolation string

const (
	// IsolationCollection: the user's role reaches only the tenant's
	// dedicated collection.
	IsolationCollection Isolation = "Collection"
	// IsolationSharedCollection: the user's role reaches only the shared
	// collection; the application must apply the tenant's filter (the
	// Secret's filter key) to every query and write, or it sees and changes
	// other small tenants' documents.
	IsolationSharedCollection Isolation = "SharedCollection"
	// IsolationNotEnforced: the server has no custom roles (FerretDB v1), so
	// the user is created without a role and MongoDB enforces nothing.
	IsolationNotEnforced Isolation = "NotEnforced"
)

// AccessRotation schedules credential rotations.
type AccessRotation struct {
	// every is how often the credentials are rotated (a Go duration such as
	// 24h or 720h), at least 1h.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="rotation.every must be at least 1h"
	// +required
	Every metav1.Duration `json:"every"`
}

// OrganizationAccessSpec asks for a MongoDB user of an organization for the
// applications of this namespace, and a connection Secret here.
type OrganizationAccessSpec struct {
	// organization is the name of the Organization whose documents the
	// applications reach. It cannot be changed. The Organization must allow
	// this namespace (its spec.access).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="organization must be an organization name (a DNS-1123 label)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="organization cannot be changed: create another OrganizationAccess"
	// +required
	Organization string `json:"organization"`

	// role is ReadWrite (read and write documents) or Read (read only).
	// +kubebuilder:default=ReadWrite
	// +optional
	Role AccessRole `json:"role,omitempty"`

	// secretName is the Secret the operator writes in this namespace with
	// the connection details (default: the OrganizationAccess's name). The
	// Secret belongs to the OrganizationAccess and is deleted with it.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="secretName must be a valid Secret name: lowercase letters, digits, '-' and '.'"
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// secretTemplate adds keys to the Secret, or replaces default ones: each
	// value is a Go text/template over .URI .Hosts .Username .Password
	// .Database .Collection .Filter .AuthSource .Tenancy (for example
	// MONGO_URL: "{{ .URI }}"). The default keys are uri, username,
	// password, database, collection, filter and authSource.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[-._a-zA-Z0-9]+$') && size(k) <= 253)",message="secretTemplate keys must be valid Secret keys: letters, digits, '-', '_' or '.'"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 4096)",message="a secretTemplate value may be at most 4096 characters"
	// +optional
	SecretTemplate map[string]string `json:"secretTemplate,omitempty"`

	// rotation, when set, rotates the credentials on a schedule. The
	// annotation tenancy.org-operator.io/rotate, set to a new value,
	// rotates them at once.
	// +optional
	Rotation *AccessRotation `json:"rotation,omitempty"`

	// requireIsolation, when true, grants the access only if MongoDB
	// enforces that the user reaches this tenant's documents alone (a
	// Dedicated organization on a server with custom roles); otherwise the
	// access is Stalled (IsolationNotAvailable) and no user is created.
	// +optional
	RequireIsolation bool `json:"requireIsolation,omitempty"`
}

// OrganizationAccessStatus is the observed state of an access, written by
// the controller. It never holds a password.
type OrganizationAccessStatus struct {
	// observedGeneration is the metadata.generation the last reconcile
	// reaching a verdict (Ready, or Stalled) acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration"`

	// conditions describe the access, following kstatus: Ready,
	// Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// organization is the Organization the access is bound to: spec.organization,
	// or the organization it was renamed to.
	// +optional
	Organization string `json:"organization,omitempty"`

	// username is the MongoDB user the Secret holds.
	// +optional
	Username string `json:"username,omitempty"`

	// secretName is the Secret holding the connection details.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// isolation is what MongoDB enforces for the user: Collection,
	// SharedCollection (the application must apply the Secret's filter) or
	// NotEnforced (no custom roles on the server).
	// +optional
	Isolation Isolation `json:"isolation,omitempty"`

	// rotatedAt is when the Secret last switched to new credentials.
	// +optional
	RotatedAt *metav1.Time `json:"rotatedAt,omitempty"`

	// previousUsername is the user the Secret held before the last
	// rotation; it keeps working until previousRetiresAt, so that
	// applications have time to load the new Secret.
	// +optional
	PreviousUsername string `json:"previousUsername,omitempty"`

	// previousRetiresAt is when previousUsername is dropped.
	// +optional
	PreviousRetiresAt *metav1.Time `json:"previousRetiresAt,omitempty"`

	// rotateRequest is the last value of the rotate annotation acted on.
	// +optional
	RotateRequest string `json:"rotateRequest,omitempty"`
}

// OrganizationAccess gives the applications of its namespace a MongoDB user
// of one organization, with a least-privilege role on the organization's
// collection, and a connection Secret in this namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=orgaccess,categories=tenancy
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="Isolation",type=string,JSONPath=`.status.isolation`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Secret",type=string,priority=1,JSONPath=`.status.secretName`
type OrganizationAccess struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the access asked for.
	// +required
	Spec OrganizationAccessSpec `json:"spec"`

	// status is the observed state of the access, written by the controller.
	// It defaults to observedGeneration 0, so a new OrganizationAccess reads
	// as in progress (kstatus) until the controller has reconciled it.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status OrganizationAccessStatus `json:"status,omitempty"`
}

// OrganizationAccessList is a list of OrganizationAccess objects.
// +kubebuilder:object:root=true
type OrganizationAccessList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the OrganizationAccess objects.
	Items []OrganizationAccess `json:"items"`
}
