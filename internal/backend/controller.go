package backend

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Config is what the MongoBackend controller needs besides the manager.
type Config struct {
	Registry *Registry
	// SecretsNamespace holds the connection Secrets (the credentials
	// namespace: the manager may read no other Secret of its own namespace).
	SecretsNamespace string
	// Mongo is the template of every connection: timeouts and pool sizes
	// (URI and database come from the MongoBackend).
	Mongo mongostore.Options
	// Commands, when set, counts each backend's commands under its name
	// (the metrics' backend label).
	Commands *mongostore.CommandCounter
	// ResyncPeriod is how often a MongoBackend is looked at without a change.
	ResyncPeriod time.Duration
	// CloseDelay is how long a replaced connection stays open for the
	// reconciles still using it; default 30 seconds.
	CloseDelay time.Duration
}

// Reconciler connects each MongoBackend from its Secret, keeps it in the
// Registry, writes its status from the Organization controller's
// observations, and holds its deletion while tenants live there.
type Reconciler struct {
	client.Client
	APIReader client.Reader
	cfg       Config

	mu sync.Mutex
	// connected is the fingerprint (URI and database) of each backend's
	// current connection, and versions its server's version.
	connected map[string][32]byte
	versions  map[string]string
}

// Add registers the MongoBackend controller.
func Add(mgr ctrl.Manager, cfg Config) error {
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 10 * time.Minute
	}
	if cfg.CloseDelay <= 0 {
		cfg.CloseDelay = 30 * time.Second
	}
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), cfg: cfg,
		connected: map[string][32]byte{}, versions: map[string]string{}}
	health := make(chan event.TypedGenericEvent[*tenancyv1alpha1.MongoBackend], 64)
	cfg.Registry.OnHealth(func(name string) {
		if name == tenancyv1alpha1.DefaultBackend {
			return
		}
		select {
		case health <- event.TypedGenericEvent[*tenancyv1alpha1.MongoBackend]{Object: &tenancyv1alpha1.MongoBackend{ObjectMeta: metav1.ObjectMeta{Name: name}}}:
		default: // a report is pending already; the periodic look catches up
		}
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&tenancyv1alpha1.MongoBackend{}).
		Named("mongobackend").
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.backendsOfSecret),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&tenancyv1alpha1.Organization{}, handler.EnqueueRequestsFromMapFunc(backendOfOrganization),
			builder.WithPredicates(leavesOrJoins())).
		WatchesRawSource(source.Channel(health, &handler.TypedEnqueueRequestForObject[*tenancyv1alpha1.MongoBackend]{})).
		Complete(r)
}

// backendsOfSecret maps a connection Secret to the MongoBackends naming it.
func (r *Reconciler) backendsOfSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	if obj.GetNamespace() != r.cfg.SecretsNamespace {
		return nil
	}
	var list tenancyv1alpha1.MongoBackendList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, b := range list.Items {
		if b.Spec.ConnectionSecretRef.Name == obj.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: b.Name}})
		}
	}
	return reqs
}

// backendOfOrganization maps an Organization to its MongoBackend.
func backendOfOrganization(_ context.Context, obj client.Object) []reconcile.Request {
	org, ok := obj.(*tenancyv1alpha1.Organization)
	if !ok {
		return nil
	}
	if b := org.BackendOf(); b != "" && b != tenancyv1alpha1.DefaultBackend {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: b}}}
	}
	return nil
}

// leavesOrJoins passes the Organization events that change a backend's
// tenants: creation, deletion (and its start), and a changed backend. A
// status write of a tenant (the common event) does not pass.
func leavesOrJoins() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okOld := e.ObjectOld.(*tenancyv1alpha1.Organization)
			n, okNew := e.ObjectNew.(*tenancyv1alpha1.Organization)
			return !okOld || !okNew || o.BackendOf() != n.BackendOf() ||
				o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero()
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// Reconcile connects, observes and reports one MongoBackend.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &tenancyv1alpha1.MongoBackend{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			r.disconnect(ctx, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := b.Status.DeepCopy()
	if !b.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, b, before)
	}
	if !controllerutil.ContainsFinalizer(b, tenancyv1alpha1.MongoBackendFinalizer) {
		base := b.DeepCopy()
		controllerutil.AddFinalizer(b, tenancyv1alpha1.MongoBackendFinalizer)
		if err := r.Patch(ctx, b, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	err := r.connect(ctx, b)
	if err == nil {
		err = r.defaultConflict(ctx, b)
	}
	r.count(ctx, b)
	res := r.observe(ctx, b, err)
	return res, r.writeStatus(ctx, b, before)
}

// connect (re)connects the backend when it is new or its connection string
// or database changed, else updates its settings. A Secret that is missing
// or holds no usable URI stalls the backend; an existing connection is
// kept meanwhile (its tenants keep working).
func (r *Reconciler) connect(ctx context.Context, b *tenancyv1alpha1.MongoBackend) error {
	uri, err := r.readURI(ctx, b)
	if err != nil {
		return err
	}
	database := b.Spec.Database
	if database == "" {
		database = tenancyv1alpha1.DefaultBackendDatabase
	}
	shared := b.Spec.SharedCollection
	if shared == "" {
		shared = tenancyv1alpha1.DefaultSharedCollection
	}
	fp := sha256.Sum256([]byte(database + "\x00" + uri))
	r.mu.Lock()
	same := r.connected[b.Name] == fp
	r.mu.Unlock()
	if same && r.cfg.Registry.Update(b.Name, shared, b.MaxDedicated()) {
		return nil
	}
	opts := r.cfg.Mongo
	opts.URI, opts.Database, opts.Monitor = uri, database, nil
	if r.cfg.Commands != nil {
		opts.Monitor = r.cfg.Commands.MonitorFor(b.Name)
	}
	store, err := mongostore.Connect(opts)
	if err != nil {
		return conditions.Stalled(tenancyv1alpha1.ReasonInvalidURI, "key %s of Secret %s/%s: %s",
			b.Spec.ConnectionSecretRef.Key, r.cfg.SecretsNamespace, b.Spec.ConnectionSecretRef.Name, err)
	}
	version, _ := store.ServerVersion(ctx)
	old, replaced := r.cfg.Registry.Set(Deployment{Name: b.Name, Store: store, SharedCollection: shared, MaxDedicated: b.MaxDedicated()})
	r.mu.Lock()
	r.connected[b.Name], r.versions[b.Name] = fp, version
	r.mu.Unlock()
	logf.FromContext(ctx).Info("connected MongoDB backend", "backend", b.Name, "database", database, "reconnected", replaced)
	if replaced {
		r.closeLater(old.Store)
	}
	return nil
}

// readURI reads the connection string; the error never contains it.
func (r *Reconciler) readURI(ctx context.Context, b *tenancyv1alpha1.MongoBackend) (string, error) {
	ref := b.Spec.ConnectionSecretRef
	key := ref.Key
	if key == "" {
		key = "uri"
	}
	s := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.cfg.SecretsNamespace, Name: ref.Name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", conditions.Stalled(tenancyv1alpha1.ReasonSecretNotFound,
				"Secret %s/%s (spec.connectionSecretRef) does not exist", r.cfg.SecretsNamespace, ref.Name)
		}
		return "", err
	}
	uri := strings.TrimSpace(string(s.Data[key]))
	if uri == "" {
		return "", conditions.Stalled(tenancyv1alpha1.ReasonSecretNotFound,
			"Secret %s/%s has no key %q (spec.connectionSecretRef.key)", r.cfg.SecretsNamespace, ref.Name, key)
	}
	if err := mongostore.ValidateURI(uri); err != nil {
		return "", conditions.Stalled(tenancyv1alpha1.ReasonInvalidURI, "key %s of Secret %s/%s: %s",
			key, r.cfg.SecretsNamespace, ref.Name, err)
	}
	return uri, nil
}

// closeLater closes a replaced connection once the reconciles that took it
// before the switch are done with it.
func (r *Reconciler) closeLater(s *mongostore.Store) {
	time.AfterFunc(r.cfg.CloseDelay, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
}

// disconnect forgets a backend that is gone and closes its connection.
func (r *Reconciler) disconnect(ctx context.Context, name string) {
	r.mu.Lock()
	delete(r.connected, name)
	delete(r.versions, name)
	r.mu.Unlock()
	if d, ok := r.cfg.Registry.Remove(name); ok {
		logf.FromContext(ctx).Info("disconnected MongoDB backend", "backend", name)
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Store.Close(closeCtx)
	}
}

// defaultConflict stalls a backend that claims spec.default while an
// older one already does (ElectDefault).
func (r *Reconciler) defaultConflict(ctx context.Context, b *tenancyv1alpha1.MongoBackend) error {
	if !b.Spec.Default {
		return nil
	}
	var list tenancyv1alpha1.MongoBackendList
	if err := r.List(ctx, &list); err != nil {
		return err
	}
	if elected := ElectDefault(list.Items); elected != b.Name {
		return conditions.Stalled(tenancyv1alpha1.ReasonDefaultConflict,
			"MongoBackend %s is the default already: at most one MongoBackend may set spec.default (this one holds only the organizations that name it)", elected)
	}
	return nil
}

// ElectDefault is the MongoBackend new organizations go to when they name
// none: the oldest live one that sets spec.default (by creation time, then
// name), "" when none does (then the manager's own deployment).
func ElectDefault(backends []tenancyv1alpha1.MongoBackend) string {
	var candidates []*tenancyv1alpha1.MongoBackend
	for i := range backends {
		if b := &backends[i]; b.Spec.Default && b.DeletionTimestamp.IsZero() {
			candidates = append(candidates, b)
		}
	}
	if len(candidates) == 0 {
		return ""
	}
	slices.SortFunc(candidates, func(a, b *tenancyv1alpha1.MongoBackend) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return candidates[0].Name
}

// tenants lists the Organizations living on the backend (from the cache).
func (r *Reconciler) tenants(ctx context.Context, name string) ([]string, int, error) {
	var list tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, 0, err
	}
	var names []string
	shared := 0
	for i := range list.Items {
		if o := &list.Items[i]; o.BackendOf() == name {
			names = append(names, o.Name)
			if o.Status.DocumentFilter != "" {
				shared++
			}
		}
	}
	slices.Sort(names)
	return names, shared, nil
}

// count writes the tenant counts into status.
func (r *Reconciler) count(ctx context.Context, b *tenancyv1alpha1.MongoBackend) {
	names, shared, err := r.tenants(ctx, b.Name)
	if err != nil {
		return
	}
	b.Status.Tenants, b.Status.SharedTenants = int32(len(names)), int32(shared)
	if h, ok := r.cfg.Registry.Health(b.Name); ok && h.Err == nil {
		b.Status.DedicatedCollections = int32(h.DedicatedCollections)
	}
}

// observe turns the connection's outcome and the latest observation into
// conditions, and says when to look again.
func (r *Reconciler) observe(ctx context.Context, b *tenancyv1alpha1.MongoBackend, connectErr error) ctrl.Result {
	r.mu.Lock()
	version := r.versions[b.Name]
	r.mu.Unlock()
	if version == "" {
		if d, ok := r.cfg.Registry.Get(b.Name); ok {
			if v, err := d.Store.ServerVersion(ctx); err == nil {
				r.mu.Lock()
				r.versions[b.Name], version = v, v
				r.mu.Unlock()
			}
		}
	}
	b.Status.ServerVersion = version
	h, observed := r.cfg.Registry.Health(b.Name)
	var err error
	switch {
	case connectErr != nil:
		err = connectErr
	case !observed:
		err = &conditions.WaitingError{Reason: tenancyv1alpha1.ReasonProgressing,
			Err: fmt.Errorf("connected; waiting for the first observation of the deployment")}
	case h.Err != nil:
		err = conditions.ClassifyMongo(h.Err)
	}
	if observed {
		at := metav1.NewTime(h.Taken.Truncate(time.Second))
		b.Status.ObservedAt = &at
	}
	applyStatus(b, err)
	if err != nil {
		return ctrl.Result{RequeueAfter: 10 * time.Second}
	}
	return ctrl.Result{RequeueAfter: r.cfg.ResyncPeriod}
}

// reconcileDelete holds the finalizer while Organizations (live, or
// retained in the deployment's ledger) remain, naming them.
func (r *Reconciler) reconcileDelete(ctx context.Context, b *tenancyv1alpha1.MongoBackend, before *tenancyv1alpha1.MongoBackendStatus) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(b, tenancyv1alpha1.MongoBackendFinalizer) {
		return ctrl.Result{}, nil
	}
	names, _, err := r.tenants(ctx, b.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	h, observed := r.cfg.Registry.Health(b.Name)
	retained := 0
	if observed {
		retained = h.Retained
	}
	_, connected := r.cfg.Registry.Get(b.Name)
	var blocked error
	switch {
	case len(names) > 0:
		blocked = conditions.Stalled(tenancyv1alpha1.ReasonTenantsRemain,
			"Deletion waits: %d organizations live here (%s); move or delete them first", len(names), preview(names))
	case connected && (!observed || h.Err != nil):
		blocked = &conditions.WaitingError{Reason: tenancyv1alpha1.ReasonMongoUnavailable,
			Err: fmt.Errorf("deletion waits: the deployment's ledger cannot be read to check for retained tenants")}
	case retained > 0:
		blocked = conditions.Stalled(tenancyv1alpha1.ReasonTenantsRemain,
			"Deletion waits: the ledger holds %d retained tenants' data here (see `manager audit`); release it first", retained)
	}
	if blocked != nil {
		b.Status.Tenants = int32(len(names))
		applyStatus(b, blocked)
		return ctrl.Result{RequeueAfter: r.cfg.ResyncPeriod}, r.writeStatus(ctx, b, before)
	}
	r.disconnect(ctx, b.Name)
	base := b.DeepCopy()
	controllerutil.RemoveFinalizer(b, tenancyv1alpha1.MongoBackendFinalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, b, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})))
}

// preview names at most five organizations.
func preview(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
}

// writeStatus patches status when it changed, a newer observation alone
// aside: an idle backend costs no API write per resync.
func (r *Reconciler) writeStatus(ctx context.Context, b *tenancyv1alpha1.MongoBackend, before *tenancyv1alpha1.MongoBackendStatus) error {
	now := b.Status.DeepCopy()
	now.ObservedAt = before.ObservedAt
	if equality.Semantic.DeepEqual(before, now) {
		b.Status.ObservedAt = before.ObservedAt
		return nil
	}
	patched := b.DeepCopy()
	b.Status = *before
	return client.IgnoreNotFound(r.Status().Patch(ctx, patched, client.MergeFrom(b)))
}
