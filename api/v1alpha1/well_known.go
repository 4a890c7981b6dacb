package v1alpha1

// The tenant contract: every name the operator, the REST API, the dev tool
// and the platform's own tooling share about an Organization lives here, as
// cloudnative-pg and cluster-api keep theirs beside their API types. Nothing
// else in the code base spells these strings.

// Condition types. They follow kstatus (sigs.k8s.io/cli-utils/pkg/kstatus)
// so kubectl wait, Argo CD and Flux understand them.
const (
	// ConditionReady is True when the tenant's collection, credentials Secret and
	// admin account are all in place for the current generation.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is still working towards
	// the desired state.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the controller cannot make progress without a
	// human fixing something (a bad reference, a conflict).
	ConditionStalled = "Stalled"
	// ConditionMigrating is True while the tenant's documents are being moved
	// (a tenancy switch or a rename); its message counts copied documents.
	ConditionMigrating = "Migrating"
	// ConditionPaused is True while AnnotationReconcile is ReconcileDisabled:
	// the controller writes nothing for the organization but this condition.
	ConditionPaused = "Paused"
)

// Condition reasons. They appear in status conditions; messages never
// contain a password or hash.
const (
	ReasonSucceeded                 = "Succeeded"
	ReasonProgressing               = "Progressing"
	ReasonDeleting                  = "Deleting"
	ReasonReconcileFailed           = "ReconcileFailed"
	ReasonMongoUnavailable          = "MongoUnavailable"
	ReasonPasswordSecretNotFound    = "PasswordSecretNotFound"
	ReasonAdminEmailInUse           = "AdminEmailInUse"
	ReasonCredentialsSecretConflict = "CredentialsSecretConflict"
	ReasonMigrating                 = "Migrating"
	ReasonMigrationConflict         = "MigrationConflict"
	ReasonCollectionBudgetExceeded  = "CollectionBudgetExceeded"
	ReasonRenamed                   = "Renamed"
	ReasonRenameConflict            = "RenameConflict"
	ReasonRenameTargetTaken         = "RenameTargetTaken"
	ReasonRenameInProgress          = "RenameInProgress"
	// ReasonRetainedDataExists: the organization's location holds data it
	// does not own (a retained tenant's, or data no ledger entry claims);
	// nothing is read, written or dropped until the platform adopts it.
	ReasonRetainedDataExists = "RetainedDataExists"
	// ReasonOwnedByAnotherCluster: the ledger says another cluster owns the
	// location; it is never adopted or dropped from here.
	ReasonOwnedByAnotherCluster = "OwnedByAnotherCluster"
	// ReasonPasswordSecretNotAllowed: spec.admin.passwordSecretRef names a
	// Secret that is not labelled for this organization, or one of the
	// operator's own Secrets.
	ReasonPasswordSecretNotAllowed = "PasswordSecretNotAllowed"
	// ReasonInvalidPasswordHash: the credentials Secret holds a password hash
	// that is not argon2id within the accepted parameters.
	ReasonInvalidPasswordHash = "InvalidPasswordHash"
	// ReasonReconcileDisabled: the Paused condition's reason.
	ReasonReconcileDisabled = "ReconcileDisabled"
)

// AnnotationReconcile, set to ReconcileDisabled on an Organization, pauses
// it: the controller writes nothing to MongoDB or Secrets for it and sets
// only the Paused condition, until the annotation is removed (or has any
// other value). Deleting a paused Organization still runs the deletion
// (its deletionPolicy applies) before the finalizer is removed.
const AnnotationReconcile = "tenancy.org-operator.io/reconcile"

// ReconcileDisabled is AnnotationReconcile's value that pauses an organization.
const ReconcileDisabled = "disabled"

// Field managers: the names under which the operator's writes appear in
// metadata.managedFields.
const (
	// FieldManagerController writes finalizers, status and the Secrets.
	FieldManagerController = "org-operator"
	// FieldManagerAPI is the REST API's: it writes Organizations with
	// server-side apply, without force, so a field another manager owns (a
	// GitOps tool, kubectl apply) is never overwritten by a tenant.
	FieldManagerAPI = "org-operator-api"
)

// Finalizer is set on every Organization before anything outside the cluster
// is touched, and removed only once the external clean-up succeeded.
const Finalizer = "tenancy.org-operator.io/finalizer"

// Labels the operator sets on the Secrets it writes (and that a Secret named
// by spec.admin.passwordSecretRef carries).
const (
	// LabelManagedBy is the well-known Kubernetes label naming the manager.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is LabelManagedBy's value on the operator's own objects.
	ManagedBy = "org-operator"
	// LabelOrganization names the organization a Secret belongs to.
	LabelOrganization = "tenancy.org-operator.io/organization"
	// LabelCreatedBy, on an Organization, says what created it; the REST
	// API's sign-up sets CreatedBySignup, and the sign-up caps count those.
	LabelCreatedBy = "tenancy.org-operator.io/created-by"
	// CreatedBySignup is LabelCreatedBy's value on sign-up organizations.
	CreatedBySignup = "signup"
)

// AnnotationGeneratedPassword, on the operator-owned <name>-admin Secret,
// holds the SHA-256 digest of the password the operator generated. While
// the Secret's password still matches it, the password is known to be
// random and takes the fast hash; a password someone changed no longer
// matches and takes argon2id.
const AnnotationGeneratedPassword = "tenancy.org-operator.io/generated-password-sha256"

// AnnotationAdoptData, set by the platform on an Organization, names the
// UID of the retained tenant whose data (in the organization's location)
// the Organization takes over: explicit adoption. "unowned" adopts data no
// ledger entry claims. The REST API never sets it.
const AnnotationAdoptData = "tenancy.org-operator.io/adopt-data"

// AdoptUnowned is AnnotationAdoptData's value that adopts data without a ledger entry.
const AdoptUnowned = "unowned"

// Keys of a credentials Secret.
const (
	// SecretKeyOrganization holds the organization's name.
	SecretKeyOrganization = "organization"
	// SecretKeyEmail holds the admin's email (the login name).
	SecretKeyEmail = "email"
	// SecretKeyPassword holds the admin's password in clear: generated by the
	// operator in <name>-admin, or chosen by the platform in a referenced Secret.
	SecretKeyPassword = "password"
	// SecretKeyPasswordHash holds an argon2id hash (PHC string) of a password
	// a tenant admin chose through the REST API, so that no chosen password
	// is kept in clear. When present it takes precedence over the password key.
	SecretKeyPasswordHash = "passwordHash"
)

// Collections and namespaces the operator uses unless configured otherwise.
const (
	// DedicatedCollectionPrefix starts the name of every dedicated collection.
	DedicatedCollectionPrefix = "org_"
	// DefaultSharedCollection holds the documents of every Shared organization
	// (--shared-collection).
	DefaultSharedCollection = "shared_tenants"
	// DefaultCredentialsNamespace holds the tenants' credentials Secrets
	// (--credentials-namespace): a namespace of their own, apart from the
	// operator's Secrets, so that whoever may read tenant passwords there
	// gets neither the MongoDB URI nor the signing keys.
	DefaultCredentialsNamespace = "org-operator-credentials"
	// DefaultOperatorNamespace is the namespace the operator runs in when
	// neither --operator-namespace nor POD_NAMESPACE says otherwise: its
	// leader-election Lease, the REST API's signing keys and the MongoDB
	// URI Secret live there.
	DefaultOperatorNamespace = "org-operator-system"
	// DefaultSigningKeysSecret holds the REST API's signing keys
	// (--api-signing-keys-secret).
	DefaultSigningKeysSecret = "org-operator-jwt-keys"
	// MongoDBSecret holds the MongoDB connection string the Deployment
	// passes to the manager (config/manager).
	MongoDBSecret = "org-operator-mongodb"
)

// DedicatedCollection is the collection of a Dedicated organization.
func DedicatedCollection(organization string) string {
	return DedicatedCollectionPrefix + organization
}

// CredentialsSecretName is the Secret the operator owns for an organization
// whose spec has no passwordSecretRef: it holds the organization, the admin's
// email and the generated password.
func CredentialsSecretName(organization string) string {
	return organization + "-admin"
}

// SignupSecretName is the Secret holding the password chosen at a
// self-service sign-up; the Organization references it and owns it.
func SignupSecretName(organization string) string {
	return organization + "-signup"
}

// PasswordSource names the Secret (in the credentials namespace) and the key
// that hold the organization's admin password: the Secret
// spec.admin.passwordSecretRef names (key "password" unless set), else the
// operator-owned <name>-admin.
func (o *Organization) PasswordSource() (name, key string) {
	ref := o.Spec.Admin.PasswordSecretRef
	if ref == nil {
		return CredentialsSecretName(o.Name), SecretKeyPassword
	}
	if ref.Key == "" {
		return ref.Name, SecretKeyPassword
	}
	return ref.Name, ref.Key
}

// Paused reports whether the organization carries AnnotationReconcile: disabled.
func (o *Organization) Paused() bool {
	return o.Annotations[AnnotationReconcile] == ReconcileDisabled
}

// SignedUp reports whether the organization carries the label of a
// self-service sign-up (LabelCreatedBy: CreatedBySignup).
func (o *Organization) SignedUp() bool {
	return o.Labels[LabelCreatedBy] == CreatedBySignup
}

// The application-access contract (OrganizationAccess).

// Condition reasons of an OrganizationAccess.
const (
	// ReasonAccessNotAllowed: the Organization's spec.access does not allow
	// the OrganizationAccess's namespace; no user and no Secret exist.
	ReasonAccessNotAllowed = "AccessNotAllowed"
	// ReasonOrganizationNotFound: no Organization of spec.organization (nor
	// one renamed from it) exists, or it is being deleted.
	ReasonOrganizationNotFound = "OrganizationNotFound"
	// ReasonIsolationNotAvailable: spec.requireIsolation is true and MongoDB
	// cannot enforce that the user reaches only this tenant's documents.
	ReasonIsolationNotAvailable = "IsolationNotAvailable"
	// ReasonRolesUnsupported: --access-roles=required and the server has no
	// custom roles.
	ReasonRolesUnsupported = "RolesUnsupported"
	// ReasonAccessDisabled: --access-roles=disabled turns application access off.
	ReasonAccessDisabled = "AccessDisabled"
	// ReasonInvalidSecretTemplate: a spec.secretTemplate value does not
	// parse or does not render.
	ReasonInvalidSecretTemplate = "InvalidSecretTemplate"
	// ReasonSecretConflict: spec.secretName names a Secret the operator did
	// not write; it is left as it is.
	ReasonSecretConflict = "SecretConflict"
	// ReasonOrganizationNotReady: the organization has no place in MongoDB yet.
	ReasonOrganizationNotReady = "OrganizationNotReady"
)

// AnnotationRotate, set on an OrganizationAccess to a value other than the
// last one acted on (status.rotateRequest), rotates its credentials at once.
const AnnotationRotate = "tenancy.org-operator.io/rotate"

// AccessFinalizer is set on every OrganizationAccess before a user is
// created, and removed once its users are dropped and its Secret deleted.
const AccessFinalizer = "tenancy.org-operator.io/access-finalizer"

// Labels of the Secrets the operator writes for an OrganizationAccess.
const (
	// LabelAccess, on a connection Secret in an application namespace, names
	// the OrganizationAccess it serves. The operator writes only Secrets
	// that carry it (an admission policy in config/admission says so).
	LabelAccess = "tenancy.org-operator.io/access"
	// LabelAccessOrganization, on an access's credentials record in the
	// credentials namespace, names the organization; LabelAccessNamespace
	// the namespace of the OrganizationAccess.
	LabelAccessOrganization = "tenancy.org-operator.io/access-organization"
	LabelAccessNamespace    = "tenancy.org-operator.io/access-namespace"
	// IndexAccessOrganization is the manager's cache index of
	// OrganizationAccess objects by the organization they name
	// (spec.organization) and the one they are bound to (status.organization,
	// which differs after a rename).
	IndexAccessOrganization = "accessOrganization"
)

// Keys of a connection Secret (before spec.secretTemplate).
const (
	AccessKeyURI        = "uri"
	AccessKeyUsername   = "username"
	AccessKeyPassword   = "password"
	AccessKeyDatabase   = "database"
	AccessKeyCollection = "collection"
	AccessKeyFilter     = "filter"
	AccessKeyAuthSource = "authSource"
)

// AccessUserPrefix starts the name of every MongoDB user and role the
// operator creates for application access: users are
// oa.<organization>.<OrganizationAccess UID>.<a|b>, roles
// oa.<organization>.<read|readWrite>. Organization names hold no '.', so
// the parts never run together.
const AccessUserPrefix = "oa."

// AccessCredentialsName is the name of an access's credentials record in
// the credentials namespace: the operator's own copy of the current
// password, from which the connection Secret is written.
func AccessCredentialsName(uid string) string {
	return "oa-" + uid
}

// AccessSecretName is the connection Secret's name: spec.secretName, else
// the OrganizationAccess's name.
func (a *OrganizationAccess) AccessSecretName() string {
	if a.Spec.SecretName != "" {
		return a.Spec.SecretName
	}
	return a.Name
}

// AccessRoleOrDefault is spec.role, ReadWrite when empty.
func (a *OrganizationAccess) AccessRoleOrDefault() AccessRole {
	if a.Spec.Role == "" {
		return AccessReadWrite
	}
	return a.Spec.Role
}

// ReasonUsersUnsupported: the MongoDB server has no users (FerretDB v1
// without authentication).
const ReasonUsersUnsupported = "UsersUnsupported"

// MongoBackendFinalizer is set on every MongoBackend: its deletion waits
// until no Organization (live, or retained in its ledger) lives there.
const MongoBackendFinalizer = "tenancy.org-operator.io/backend-finalizer"

// Condition reasons of MongoBackends and of organizations' placement.
const (
	// ReasonBackendNotFound: spec.backend names no MongoBackend.
	ReasonBackendNotFound = "BackendNotFound"
	// ReasonBackendDeleting: the organization's MongoBackend is being deleted.
	ReasonBackendDeleting = "BackendDeleting"
	// ReasonNoBackendMatches: no Ready MongoBackend matches spec.placement.backendSelector.
	ReasonNoBackendMatches = "NoBackendMatches"
	// ReasonBackendMoveUnsupported: spec.backend differs from status.backend.
	ReasonBackendMoveUnsupported = "BackendMoveUnsupported"
	// ReasonSecretNotFound: a MongoBackend's connection Secret (or its key) is missing.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidURI: a MongoBackend's connection string is not a MongoDB URI.
	ReasonInvalidURI = "InvalidURI"
	// ReasonDefaultConflict: another MongoBackend already is the default.
	ReasonDefaultConflict = "DefaultConflict"
	// ReasonTenantsRemain: a MongoBackend being deleted still holds tenants.
	ReasonTenantsRemain = "TenantsRemain"
)

// BackendOf is the deployment an organization's data lives on (or will):
// status.backend once chosen, else spec.backend; "" when not chosen yet.
// Organizations placed before backends existed live on DefaultBackend.
func (o *Organization) BackendOf() string {
	switch {
	case o.Status.Backend != "":
		return o.Status.Backend
	case o.Status.Collection != "":
		return DefaultBackend
	}
	return o.Spec.Backend
}
