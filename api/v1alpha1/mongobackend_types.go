package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultBackend names the MongoDB deployment of the manager's --mongodb-uri
// as a tenant backend. It holds the operator's own records (admin accounts,
// sessions, lockouts, signing state) and, unless a MongoBackend is marked
// spec.default, the tenants of organizations that name no backend. No
// MongoBackend may take this name.
const DefaultBackend = "default"

// DefaultBackendDatabase is a MongoBackend's database when spec.database is empty.
const DefaultBackendDatabase = "app"

// BackendSecretRef points at the Secret, in the operator's own namespace,
// whose key holds a MongoDB connection string.
type BackendSecretRef struct {
	// name of the Secret, in the operator's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a valid Secret name: lowercase letters, digits, '-' and '.'"
	// +required
	Name string `json:"name"`

	// key within the Secret whose value is the connection string
	// (mongodb:// or mongodb+srv://, credentials included).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must consist of letters, digits, '-', '_' or '.'"
	// +kubebuilder:default=uri
	// +optional
	Key string `json:"key,omitempty"`
}

// MongoBackendSpec is one MongoDB deployment that holds tenants.
type MongoBackendSpec struct {
	// connectionSecretRef names the Secret holding the connection string.
	// The operator reads it, never copies it, and reconnects when it changes.
	// +required
	ConnectionSecretRef BackendSecretRef `json:"connectionSecretRef"`

	// database holds the tenants' collections and the ownership ledger on
	// this deployment.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-]+$')",message="database must consist of letters, digits, '_' or '-'"
	// +kubebuilder:default=app
	// +optional
	Database string `json:"database,omitempty"`

	// sharedCollection holds the documents of this deployment's Shared
	// organizations (and Auto ones not yet promoted).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=120
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_]+$') && !self.startsWith('org_')",message="sharedCollection must consist of letters, digits and '_' and may not start with org_ (the dedicated collections' prefix)"
	// +kubebuilder:default=shared_tenants
	// +optional
	SharedCollection string `json:"sharedCollection,omitempty"`

	// maxDedicatedCollections caps the dedicated collections on this
	// deployment (retained ones count); 0 means no cap. WiredTiger keeps a
	// file per collection and per index: Atlas recommends at most 5,000
	// collections plus indexes on an M10.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=5000
	// +optional
	MaxDedicatedCollections *int32 `json:"maxDedicatedCollections,omitempty"`

	// default makes this deployment the one new organizations are placed on
	// when they name no backend and select none (instead of the manager's
	// --mongodb-uri). At most one MongoBackend may be the default; a second
	// one is Stalled. Changing the default moves nobody: an organization's
	// backend is chosen once, at creation, and kept in status.backend.
	// +optional
	Default bool `json:"default,omitempty"`
}

// MongoBackendStatus is what the operator observed of a deployment.
type MongoBackendStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration"`

	// conditions follow kstatus: Ready is True when the deployment answers
	// and its ownership ledger is readable.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// serverVersion is the version the deployment reports (buildInfo).
	// +optional
	ServerVersion string `json:"serverVersion,omitempty"`

	// tenants counts the Organizations whose data lives here.
	// +optional
	Tenants int32 `json:"tenants"`

	// dedicatedCollections counts the dedicated collections in use here,
	// retained ones included.
	// +optional
	DedicatedCollections int32 `json:"dedicatedCollections"`

	// sharedTenants counts the Organizations in the shared collection.
	// +optional
	SharedTenants int32 `json:"sharedTenants"`

	// observedAt is when the observation this status was last written from
	// was taken (an observation that changes nothing writes nothing).
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// MongoBackend is a MongoDB deployment that holds tenants: organizations
// name it in spec.backend (or are placed on it), and the operator connects
// to it with the connection string of its Secret.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mb,categories=tenancy
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Default",type=boolean,JSONPath=`.spec.default`
// +kubebuilder:printcolumn:name="Tenants",type=integer,JSONPath=`.status.tenants`
// +kubebuilder:printcolumn:name="Dedicated",type=integer,JSONPath=`.status.dedicatedCollections`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.serverVersion`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",message="metadata.name must be a DNS-1123 label of at most 63 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name != 'default'",message="metadata.name may not be 'default': that name is the manager's --mongodb-uri deployment"
type MongoBackend struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata; metadata.name is how
	// organizations name the backend.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says how to reach the deployment and what it may hold.
	// +required
	Spec MongoBackendSpec `json:"spec"`

	// status is what the operator observed.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status MongoBackendStatus `json:"status,omitempty"`
}

// MongoBackendList is a list of MongoBackends.
// +kubebuilder:object:root=true
type MongoBackendList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the MongoBackends.
	Items []MongoBackend `json:"items"`
}

// MaxDedicated is spec.maxDedicatedCollections (5000 when unset).
func (b *MongoBackend) MaxDedicated() int {
	if b.Spec.MaxDedicatedCollections == nil {
		return 5000
	}
	return int(*b.Spec.MaxDedicatedCollections)
}
