package backend

// RBAC of the MongoBackend controller: MongoBackends (cluster-scoped) read,
// with their finalizer and status. Their connection Secrets live in the
// credentials namespace, whose Secrets the manager already reads
// (internal/controller/rbac.go): the manager may still read no other Secret
// of its own namespace.

// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=mongobackends,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=mongobackends/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=mongobackends/finalizers,verbs=update
