package access

// RBAC of application access, least privilege (config/rbac/role.yaml):
//   - OrganizationAccess objects in every namespace (read, finalizer,
//     status);
//   - Namespaces, read only (their labels, for spec.access.namespaceSelector);
//   - Secrets in every namespace: create, patch (server-side apply) and
//     deletecollection (by name and the access's label at once), and no
//     get, list, watch, update or delete: the operator never reads a
//     Secret of an application namespace (it writes the connection Secret
//     from its record in the credentials namespace), and Kubernetes RBAC
//     cannot limit writes to labelled Secrets, so the admission policy
//     config/admission/access_secrets_policy.yaml refuses the operator any
//     write to a Secret outside its own namespaces that does not carry
//     tenancy.org-operator.io/access, before and after;
//   - Events in every namespace: those about an OrganizationAccess live in
//     its namespace.

// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=organizationaccesses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=organizationaccesses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tenancy.org-operator.io,resources=organizationaccesses/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch;deletecollection
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
