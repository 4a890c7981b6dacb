package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Tenancy says where an organization's documents live.
// +kubebuilder:validation:Enum=Dedicated;Shared;Auto
type Tenancy string

const (
	// TenancyDedicated gives the organization its own collection, org_<name>.
	TenancyDedicated Tenancy = "Dedicated"
	// TenancyShared stores the organization's documents in a collection shared
	// with other small tenants, keyed by an organization field.
	TenancyShared Tenancy = "Shared"
	// TenancyAuto starts the organization in the shared collection and
	// promotes it to a dedicated collection once it has grown past
	// --auto-promote-documents (within --max-dedicated-collections); it is
	// never moved back automatically.
	TenancyAuto Tenancy = "Auto"
)

// DeletionPolicy says what happens to an organization's data when the
// Organization is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the tenant's collection and documents; only
	// the admin account is removed.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete drops the tenant's data together with the admin account.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// SecretKeyRef points at one key of a Secret in the operator's credentials namespace.
type SecretKeyRef struct {
	// name of the Secret, in the operator's credentials namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a valid Secret name: lowercase letters, digits, '-' and '.'"
	// +required
	Name string `json:"name"`

	// key within the Secret whose value is the admin's password.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must consist of letters, digits, '-', '_' or '.'"
	// +kubebuilder:default=password
	// +optional
	Key string `json:"key,omitempty"`
}

// AdminSpec describes the organization's administrator account.
type AdminSpec struct {
	// email of the organization's administrator; the login name for the REST
	// API. It must be unique across all organizations.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$')",message="email must be an email address such as admin@example.com"
	// +required
	Email string `json:"email"`

	// passwordSecretRef names a Secret in the operator's credentials namespace
	// that holds the admin's initial password (key "password" unless set). The
	// Secret is read, never copied. When absent, the operator generates a
	// password and stores it in the Secret <name>-admin, which it owns.
	// +optional
	PasswordSecretRef *SecretKeyRef `json:"passwordSecretRef,omitempty"`
}

// AccessPolicy says which namespaces' applications may get a MongoDB user of
// the organization (OrganizationAccess objects): those listed by name and
// those whose labels match the selector. Without it, none may.
type AccessPolicy struct {
	// namespaces lists namespaces by name.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// namespaceSelector selects namespaces by their labels. An empty
	// selector ({}) selects every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// OrganizationSpec is the desired state of a tenant. It never holds a password.
// +kubebuilder:validation:XValidation:rule="has(self.renamedFrom) == has(oldSelf.renamedFrom) && (!has(self.renamedFrom) || self.renamedFrom == oldSelf.renamedFrom)",message="spec.renamedFrom can only be set when the Organization is created: it cannot be added, changed or removed later"
type OrganizationSpec struct {
	// displayName is the human-readable name of the organization.
	// +kubebuilder:validation:MaxLength=200
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// admin describes the organization's administrator account.
	// +required
	Admin AdminSpec `json:"admin"`

	// tenancy says where the organization's documents live: Dedicated (its own
	// collection org_<name>), Shared (a collection shared by small tenants,
	// every document carrying an organization field) or Auto (Shared until
	// the tenant has --auto-promote-documents documents, then Dedicated for
	// good; status.placement says why).
	// +kubebuilder:default=Dedicated
	// +optional
	Tenancy Tenancy `json:"tenancy,omitempty"`

	// deletionPolicy says what happens to the tenant's data when the
	// Organization is deleted: Retain keeps the collection and its documents
	// (only the admin account is removed), Delete drops them.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// renamedFrom names the Organization whose data, admin account and
	// password this one takes over (a rename), at once, even while that one
	// exists and is not being deleted (Argo CD prunes the old object last).
	// The old Organization's data is never dropped while the move runs, even
	// with deletionPolicy Delete; it may be deleted before, during or after
	// the move. It can only be set when the Organization is created: it
	// cannot be added later, changed or removed.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="renamedFrom must be an organization name (a DNS-1123 label)"
	// +optional
	RenamedFrom string `json:"renamedFrom,omitempty"`

	// access says which namespaces may bind applications to this
	// organization with an OrganizationAccess (default: none). Removing a
	// namespace revokes the users bound there and deletes their Secrets.
	// +optional
	Access *AccessPolicy `json:"access,omitempty"`

	// backend names the MongoDB deployment that holds the tenant's data: a
	// MongoBackend, or "default" (the manager's --mongodb-uri). Without it
	// the operator chooses once, at creation (see placement), and records
	// the choice in status.backend.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="backend must name a MongoBackend (a DNS-1123 label) or be 'default'"
	// +optional
	Backend string `json:"backend,omitempty"`

	// placement guides the operator's choice of backend when spec.backend
	// is empty.
	// +optional
	Placement *PlacementSpec `json:"placement,omitempty"`
}

// PlacementSpec guides the choice of a backend for an organization that
// names none.
type PlacementSpec struct {
	// backendSelector chooses among the MongoBackends whose labels match:
	// the Ready one with the most dedicated-collection headroom, at
	// creation. Without it the default backend is chosen.
	// +optional
	BackendSelector *metav1.LabelSelector `json:"backendSelector,omitempty"`
}

// DocumentLocation is where a tenant's documents live: a whole collection
// (Dedicated) or the documents of a shared collection whose organization
// field holds the tenant's name (Shared).
type DocumentLocation struct {
	// collection is the MongoDB collection.
	Collection string `json:"collection"`
	// organization, when set, selects the tenant's documents in a shared
	// collection: {"organization": <this value>}.
	// +optional
	Organization string `json:"organization,omitempty"`
	// backend is the deployment the collection is on, set on both ends of
	// a move between backends (empty: the organization's status.backend).
	// +optional
	Backend string `json:"backend,omitempty"`
}

// MigrationPhase is the step a document move is at.
// +kubebuilder:validation:Enum=Copying;Switched
type MigrationPhase string

const (
	// MigrationCopying: documents are copied from source to target; the
	// source is still the tenant's collection.
	MigrationCopying MigrationPhase = "Copying"
	// MigrationSwitched: the target is the tenant's collection; the source's
	// copy is being removed.
	MigrationSwitched MigrationPhase = "Switched"
)

// MigrationMethod is how documents are moved.
type MigrationMethod string

const (
	// MigrationCopy copies documents in batches, verifies, then removes the source.
	MigrationCopy MigrationMethod = "Copy"
	// MigrationRenameCollection renames a dedicated collection in place.
	MigrationRenameCollection MigrationMethod = "RenameCollection"
	// MigrationRelabel rewrites the tenant field of the documents in place:
	// a rename that stays in the shared collection (a copy there would
	// collide with the documents' own _id).
	MigrationRelabel MigrationMethod = "Relabel"
)

// MigrationStatus is a document move in progress, kept in status so that it
// resumes after a restart of the manager.
type MigrationStatus struct {
	// source is where the documents are moved from.
	Source DocumentLocation `json:"source"`
	// target is where the documents are moved to.
	Target DocumentLocation `json:"target"`
	// phase is Copying (the source is current) or Switched (the target is
	// current and the source is being removed).
	Phase MigrationPhase `json:"phase"`
	// method is Copy (documents copied in batches, then the source removed),
	// RenameCollection (a dedicated collection renamed within the database)
	// or Relabel (a rename within the shared collection: the documents'
	// tenant field rewritten in place).
	// +kubebuilder:validation:Enum=Copy;RenameCollection;Relabel
	Method MigrationMethod `json:"method"`
	// copied is the number of the tenant's documents found in the target.
	// +optional
	Copied int64 `json:"copied,omitempty"`
	// total is the number of the tenant's documents in the source.
	// +optional
	Total int64 `json:"total,omitempty"`
	// startedAt is when the move started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
}

// SecretReference names a Secret by namespace and name.
type SecretReference struct {
	// namespace of the Secret.
	Namespace string `json:"namespace"`
	// name of the Secret.
	Name string `json:"name"`
}

// OrganizationStatus is the observed state of a tenant, written by the controller.
type OrganizationStatus struct {
	// observedGeneration is the metadata.generation of the spec that the last
	// reconcile reaching a verdict (Ready, or Stalled) acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration"`

	// conditions describe the tenant's state, following kstatus: Ready,
	// Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// backend is the MongoDB deployment that holds the tenant's data
	// (a MongoBackend's name, or "default"), chosen once at creation.
	// +optional
	Backend string `json:"backend,omitempty"`

	// database is the MongoDB database that holds the tenant's collection.
	// +optional
	Database string `json:"database,omitempty"`

	// collection is the MongoDB collection that holds the tenant's documents.
	// +optional
	Collection string `json:"collection,omitempty"`

	// documentFilter says how to scope queries to this tenant's documents in
	// collection: empty for a Dedicated organization (the whole collection),
	// {"organization":"<name>"} for a Shared one; every document a Shared
	// tenant writes must carry that field.
	// +optional
	DocumentFilter string `json:"documentFilter,omitempty"`

	// placement says where spec.tenancy: Auto put the organization and why.
	// +optional
	Placement *PlacementStatus `json:"placement,omitempty"`

	// migration is the document move in progress, if any.
	// +optional
	Migration *MigrationStatus `json:"migration,omitempty"`

	// renamedFrom is set once this organization has taken over the data of
	// spec.renamedFrom (documents, admin account and credentials).
	// +optional
	RenamedFrom string `json:"renamedFrom,omitempty"`

	// renamedFromUID is the UID of the organization whose data this one
	// takes over, recorded when the take-over starts: the old password is
	// inherited only from that organization.
	// +optional
	RenamedFromUID string `json:"renamedFromUID,omitempty"`

	// credentialsSecretRef names the Secret holding the admin's credentials
	// (the operator-owned <name>-admin, or the Secret of spec.admin.passwordSecretRef).
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`
}

// PlacementStatus is the last decision of automatic placement.
type PlacementStatus struct {
	// tenancy is where the organization is placed: Shared or Dedicated.
	Tenancy Tenancy `json:"tenancy"`
	// documents is the tenant's number of documents in the shared collection
	// when last recorded: a new count is recorded when it differs by at least
	// a tenth of the promotion threshold, or reaches the threshold, so a
	// steady tenant causes no status writes.
	// +optional
	Documents int64 `json:"documents,omitempty"`
	// measuredAt is when documents was measured (by the bulk observation).
	// +optional
	MeasuredAt *metav1.Time `json:"measuredAt,omitempty"`
	// reason explains the decision, e.g. below the threshold, promoted, or
	// qualifying while the dedicated-collection budget is full.
	Reason string `json:"reason"`
}

// Organization is one tenant: its MongoDB collection, its admin account and the
// Secret holding the admin's credentials. metadata.name is the organization's id.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=org;orgs,categories=tenancy
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Tenancy",type=string,JSONPath=`.spec.tenancy`
// +kubebuilder:printcolumn:name="Collection",type=string,JSONPath=`.status.collection`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Migrating",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Migrating")].message`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.renamedFrom) || self.spec.renamedFrom != self.metadata.name",message="spec.renamedFrom must name a different organization"
type Organization struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata; metadata.name is the
	// organization's id (a DNS-1123 label of at most 63 characters).
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the organization.
	// +required
	Spec OrganizationSpec `json:"spec"`

	// status is the observed state of the organization, written by the controller.
	// It defaults to observedGeneration 0, so a new Organization reads as
	// in progress (kstatus) until the controller has reconciled it.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status OrganizationStatus `json:"status,omitempty"`
}

// OrganizationList is a list of Organizations.
// +kubebuilder:object:root=true
type OrganizationList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Organizations.
	Items []Organization `json:"items"`
}
