// Package controller reconciles Organizations: each becomes a MongoDB
// collection, an admin record and a credentials Secret, with kstatus
// conditions written back to status.
package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/backend"
	"github.com/org-operator/org-operator/internal/password"
)

// conflictRequeue is how soon a reconcile that lost an optimistic-lock race runs again.
const conflictRequeue = 500 * time.Millisecond

// firstObservationWait is how soon a settled organization is looked at
// again while the first bulk observation is not in yet.
const firstObservationWait = time.Second

// passwordSecretIndex indexes Organizations by the Secret their spec references.
const passwordSecretIndex = "spec.admin.passwordSecretRef.name"

// OrganizationReconciler reconciles Organization objects.
type OrganizationReconciler struct {
	client.Client
	// APIReader reads from the apiserver, bypassing the cache.
	APIReader client.Reader
	// SecretCache reads Secrets' metadata from the cache (which holds
	// Secrets as metadata only); their data comes from APIReader.
	SecretCache client.Reader
	Scheme      *runtime.Scheme
	Recorder    events.EventRecorder
	// Store is the MongoDB side of every tenant.
	Store TenantStore
	// CredentialsNamespace holds credentials Secrets (owned and referenced).
	CredentialsNamespace string
	// HashParams are the argon2id parameters for admin passwords.
	HashParams password.Params
	// HashSlots bounds concurrent argon2id work in the process.
	HashSlots password.Slots
	// SharedCollection holds the documents of Shared organizations.
	SharedCollection string
	// MigrationBatchSize is how many documents a move copies per batch.
	MigrationBatchSize int
	// ClusterID identifies this cluster in the ownership ledger.
	ClusterID string
	// ProtectedSecrets are the operator's own Secrets in the credentials
	// namespace; spec.admin.passwordSecretRef may not name them.
	ProtectedSecrets []string
	// Access keeps the organization's application-access roles (nil: none).
	Access *access.Server

	// budget counts dedicated collections against --max-dedicated-collections.
	budget *collectionBudget
	// placement decides where spec.tenancy: Auto organizations live.
	placement placementPolicy
	// observed is the latest bulk observation of MongoDB.
	observed *observation
	// selfWrites lets the Secret watches ignore the controller's own writes.
	selfWrites *selfWrites
	// sharedIndexes holds the default site's shared collections whose index
	// this process ensured.
	sharedIndexes sync.Map
	// sites are the deployments that hold tenants, the default one (r.Store,
	// r.observed, r.budget) included; backends is where they come from.
	sites    sites
	backends *backend.Registry
	// orgInformer feeds the sites' budgets.
	orgInformer crcache.Informer
	// siteChanged tells the observer that a site was added, replaced or removed.
	siteChanged func(name string)
	// metrics are the controller's Prometheus metrics.
	metrics *metrics
}

// tenant carries what one reconcile learns from step to step.
type tenant struct {
	org *tenancyv1alpha1.Organization
	// wasReady is true when the Organization was Ready before this reconcile:
	// a missing resource is then drift, reported with a Warning event.
	wasReady bool
	creds    credentials
	// persisted is the status as last written to the apiserver.
	persisted *tenancyv1alpha1.OrganizationStatus
	// othersWrote is set when somebody else changed a Secret while this
	// reconcile wrote it (its event was dropped as ours): look again.
	othersWrote bool
	// rehomed is set when a rename moved the old admin record here.
	rehomed bool
	// takenOver is set when this reconcile voided a sign-up the platform
	// now declares (reconcileSignupTakeover).
	takenOver bool
	// provisioned lists what this reconcile created for an organization
	// that was not Ready yet ("created collection app.org_acme"); one
	// Provisioned event reports them all (reportProvisioned).
	provisioned []string
}

// Reconcile fetches the Organization, runs the deletion path or the ordered
// steps (finalizer, collection, credentials, admin record) and writes the
// status once, through a patch, and only when it changed. A paused
// Organization (not being deleted) gets only its Paused condition. A settled (Ready,
// current) organization is checked against the bulk observation rather than
// MongoDB: it waits for the first observation, and reports MongoUnavailable
// at once when the last observation could not reach MongoDB.
func (r *OrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	org := &tenancyv1alpha1.Organization{}
	if err := r.Get(ctx, req.NamespacedName, org); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	t := &tenant{org: org, persisted: org.Status.DeepCopy(),
		wasReady: meta.IsStatusConditionTrue(org.Status.Conditions, tenancyv1alpha1.ConditionReady)}

	if org.DeletionTimestamp.IsZero() && org.Paused() {
		return r.finish(ctx, t, outcome{paused: true})
	}
	if settled(org) {
		// The data's site and the default one (admin records) both.
		data := r.siteOf(org).observed
		if !data.ready() || !r.observed.ready() {
			return ctrl.Result{RequeueAfter: firstObservationWait}, nil
		}
		err := data.storeUnavailable()
		if err == nil {
			err = r.observed.storeUnavailable()
		}
		if err != nil {
			return r.finish(ctx, t, outcome{err: classifyMongo(err)})
		}
	}
	if !org.DeletionTimestamp.IsZero() {
		released, err := r.reconcileDelete(ctx, t)
		if released {
			return ctrl.Result{}, nil // the object is gone: no status to write
		}
		return r.finish(ctx, t, outcome{err: err, deleting: true})
	}
	res, err := r.finish(ctx, t, r.reconcileLive(ctx, t))
	if t.othersWrote && err == nil && res.RequeueAfter == 0 {
		res.RequeueAfter = conflictRequeue
	}
	return res, err
}

// reconcileLive runs the steps for an Organization that is not being
// deleted, then reports what they provisioned in one event.
func (r *OrganizationReconciler) reconcileLive(ctx context.Context, t *tenant) outcome {
	o := r.runLiveSteps(ctx, t)
	r.reportProvisioned(t)
	return o
}

// runLiveSteps runs the ordered steps and stops at the first error.
func (r *OrganizationReconciler) runLiveSteps(ctx context.Context, t *tenant) outcome {
	if err := r.reconcileSignupTakeover(ctx, t); err != nil {
		return outcome{err: err}
	}
	if err := r.ensureFinalizer(ctx, t.org); err != nil {
		return outcome{err: err}
	}
	steps := []func(context.Context, *tenant) error{r.reconcileBackend, r.reconcileCollection, r.reconcileAccessRoles, r.reconcileCredentials, r.reconcileAdmin}
	for _, step := range steps {
		if err := step(ctx, t); err != nil {
			return outcome{err: err}
		}
	}
	r.completeRename(t)
	s := t.org.Status
	return outcome{readyMessage: fmt.Sprintf("Collection %s.%s, credentials Secret %s/%s and the admin account are in place",
		s.Database, s.Collection, s.CredentialsSecretRef.Namespace, s.CredentialsSecretRef.Name)}
}

// ensureFinalizer adds the finalizer before anything outside the cluster is touched.
func (r *OrganizationReconciler) ensureFinalizer(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	if controllerutil.ContainsFinalizer(org, tenancyv1alpha1.Finalizer) {
		return nil
	}
	base := org.DeepCopy()
	controllerutil.AddFinalizer(org, tenancyv1alpha1.Finalizer)
	return r.Patch(ctx, org, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// finish writes the status derived from o and turns o into the controller's
// result: success waits for a watched change or the observer (drift), a
// stalled Organization waits for a watched change, a lost optimistic-lock
// race is retried quietly, any other error is retried with backoff.
func (r *OrganizationReconciler) finish(ctx context.Context, t *tenant, o outcome) (ctrl.Result, error) {
	if apierrors.IsConflict(o.err) {
		return ctrl.Result{RequeueAfter: conflictRequeue}, nil
	}
	if t.org.Status.Migration != nil && o.err == nil {
		o.migrating = true
	}
	applyStatus(t.org, o)
	if err := r.patchStatus(ctx, t.org, t.persisted); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: conflictRequeue}, nil
		}
		return ctrl.Result{}, err
	}
	if se, ok := asStalling(o.err); ok {
		logf.FromContext(ctx).Info("organization stalled", "reason", se.Reason, "message", se.Message)
		return ctrl.Result{}, nil
	}
	if o.err != nil {
		return ctrl.Result{}, o.err
	}
	return ctrl.Result{}, nil
}

// patchStatus sends a merge patch of the status subresource when it changed,
// with the resourceVersion the reconcile started from (optimistic lock): a
// reconcile that read a stale copy from the cache cannot overwrite a newer
// status, such as a move that has moved on (it gets a conflict and the
// reconcile is retried on the current object). It patches a copy: the
// client decodes the server's answer into the object it is given, which
// would replace structs (such as status.migration) that a move still holds
// and updates between its steps, and later steps would then never be
// written; only the new resourceVersion is taken back, for the next write.
func (r *OrganizationReconciler) patchStatus(ctx context.Context, org *tenancyv1alpha1.Organization,
	original *tenancyv1alpha1.OrganizationStatus) error {
	if equality.Semantic.DeepEqual(*original, org.Status) {
		return nil
	}
	base := org.DeepCopy()
	base.Status = *original
	patched := org.DeepCopy()
	if err := r.Status().Patch(ctx, patched, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	org.ResourceVersion = patched.ResourceVersion
	return nil
}

func (r *OrganizationReconciler) event(org *tenancyv1alpha1.Organization, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(org, nil, eventType, reason, action, note, args...)
	}
}

// SetupWithManager registers the controller: it watches Organizations (spec
// changes), the Secrets it owns (drift) and the Secrets named by
// spec.admin.passwordSecretRef (password changes, a missing Secret
// appearing), minus the events of its own Secret writes, and the observer's
// events (drift found in MongoDB), at low priority.
func (r *OrganizationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, observed <-chan event.GenericEvent, opts controller.Options) error {
	indexer := mgr.GetFieldIndexer()
	err := indexer.IndexField(ctx, &tenancyv1alpha1.Organization{}, passwordSecretIndex,
		func(obj client.Object) []string {
			org := obj.(*tenancyv1alpha1.Organization)
			if ref := org.Spec.Admin.PasswordSecretRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		})
	if err != nil {
		return err
	}
	err = indexer.IndexField(ctx, &tenancyv1alpha1.Organization{}, renamedFromIndex, access.IndexRenamedFrom)
	if err != nil {
		return err
	}
	notOurs := builder.WithPredicates(r.selfWrites.predicate())
	return ctrl.NewControllerManagedBy(mgr).
		// Spec changes and annotation changes (adoption) start a reconcile;
		// the controller's own status writes do not.
		// A platform declaring a sign-up organization does too (signupDeclared).
		For(&tenancyv1alpha1.Organization{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, signupDeclared()))).
		Owns(&corev1.Secret{}, builder.OnlyMetadata, notOurs).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.organizationsForSecret), notOurs).
		Watches(&tenancyv1alpha1.Organization{}, handler.EnqueueRequestsFromMapFunc(r.renameRelatives)).
		WatchesRawSource(source.Channel(observed, lowPriority())).
		WithOptions(opts).
		Named("organization").
		Complete(r)
}

// renameRelatives maps an Organization to the ones a rename ties it to: the
// organization it is renamed from (whose deletion waits for the take-over,
// and which must stop claiming the data) and those renamed from it (which
// wait for it to finish a move or to go away). Status changes count here.
func (r *OrganizationReconciler) renameRelatives(ctx context.Context, obj client.Object) []reconcile.Request {
	org := obj.(*tenancyv1alpha1.Organization)
	var reqs []reconcile.Request
	if old := org.Spec.RenamedFrom; old != "" {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: old}})
	}
	heirs, err := r.claimants(ctx, org.Name)
	if err != nil {
		logf.FromContext(ctx).Error(err, "listing organizations renamed from", "organization", org.Name)
	}
	for _, h := range heirs {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&h)})
	}
	return reqs
}

// organizationsForSecret maps a Secret in the credentials namespace to the
// Organizations whose passwordSecretRef names it, and a Secret named like an
// organization's <name>-admin to that organization (so that removing a
// Secret in its way ends a CredentialsSecretConflict at once).
func (r *OrganizationReconciler) organizationsForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	if obj.GetNamespace() != r.CredentialsNamespace {
		return nil
	}
	var orgs tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &orgs, client.MatchingFields{passwordSecretIndex: obj.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing organizations for a Secret", "secret", obj.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(orgs.Items)+1)
	for _, o := range orgs.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
	}
	if name, ok := strings.CutSuffix(obj.GetName(), tenancyv1alpha1.CredentialsSecretName("")); ok && name != "" {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
	return reqs
}

// NewRateLimiter is the controller's retry backoff: per Organization,
// exponential from 500ms to 30s, so an outage of MongoDB neither hot-loops
// nor delays recovery by more than half a minute.
func NewRateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](500*time.Millisecond, 30*time.Second)
}
