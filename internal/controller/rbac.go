package controller

// RBAC of the manager, least privilege:
//   - Organizations cluster-wide (they are cluster-scoped);
//   - Secrets in the tenants' credentials namespace (a Role there, written
//     by hand in config/credentials: kustomize's namespace transformer
//     would move a generated one into the operator's namespace);
//   - in the operator's own namespace (rewritten by kustomize to the one it
//     is deployed in), only its signing keys: read and update that Secret by
//     name (list and watch with a field selector on its name, which is how
//     the cache reads it), and create (which cannot be limited by name);
//   - the kube-system namespace, read only, for its UID: the cluster's
//     identity in the ownership ledger unless --cluster-id sets one
//     (covered by the namespace read of internal/access/rbac.go);
//   - Events (internal/access/rbac.go grants them in every namespace): the
//     apiserver records events about a cluster-scoped object such as an
//     Organization in "default", and those about an OrganizationAccess in
//     its namespace.

// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=organizations,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=organizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=organizations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",namespace=org-operator-system,resources=secrets,resourceNames=org-operator-jwt-keys,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups="",namespace=org-operator-system,resources=secrets,verbs=create
