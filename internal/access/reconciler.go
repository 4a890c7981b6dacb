package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// conflictRequeue is how soon a reconcile that lost an optimistic-lock race runs again.
const conflictRequeue = 500 * time.Millisecond

// Reconciler reconciles OrganizationAccess objects.
type Reconciler struct {
	client.Client
	// APIReader reads from the apiserver, bypassing the cache.
	APIReader client.Reader
	Recorder  events.EventRecorder

	cfg     Config
	now     func() time.Time
	metrics *metrics
}

// binding is what one reconcile learns of the access before writing.
type binding struct {
	a         *tenancyv1alpha1.OrganizationAccess
	org       *tenancyv1alpha1.Organization
	isolation tenancyv1alpha1.Isolation
	roles     []string
	// record is the access's credentials record once reconcileCredentials ran.
	record *record
	// next is when the access must be looked at again (a rotation, a
	// retirement, the Secret's periodic repair).
	next time.Time
}

// Reconcile fetches the OrganizationAccess, runs its deletion or the
// ordered steps (bind, finalizer, credentials, roles, retirement,
// connection Secret) and writes the status once, only when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	a := &tenancyv1alpha1.OrganizationAccess{}
	if err := r.Get(ctx, req.NamespacedName, a); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	persisted := a.Status.DeepCopy()
	if !a.DeletionTimestamp.IsZero() {
		err := r.reconcileDelete(ctx, a)
		if err == nil {
			return ctrl.Result{}, nil
		}
		return r.finish(ctx, a, persisted, outcome{err: err, deleting: true}, time.Time{})
	}
	b := &binding{a: a, next: r.now().Add(r.cfg.ResyncPeriod)}
	o := r.reconcileLive(ctx, b)
	return r.finish(ctx, a, persisted, o, b.next)
}

// reconcileLive binds the access and, when it may have a user, makes its
// user, roles and Secret real.
func (r *Reconciler) reconcileLive(ctx context.Context, b *binding) outcome {
	if err := r.bind(ctx, b); err != nil {
		if _, stalling := conditions.AsStalling(err); stalling {
			if rerr := r.revoke(ctx, b.a); rerr != nil {
				return outcome{err: rerr}
			}
		}
		return outcome{err: err}
	}
	if err := r.ensureFinalizer(ctx, b.a); err != nil {
		return outcome{err: err}
	}
	steps := []func(context.Context, *binding) error{r.reconcileCredentials, r.reconcileGrants, r.retirePrevious, r.reconcileSecret}
	for _, step := range steps {
		if err := step(ctx, b); err != nil {
			return outcome{err: err}
		}
	}
	return outcome{readyMessage: readyMessage(b)}
}

func readyMessage(b *binding) string {
	msg := fmt.Sprintf("User %s of organization %s in Secret %s (%s, isolation %s)",
		b.a.Status.Username, b.org.Name, b.a.Status.SecretName, b.a.AccessRoleOrDefault(), b.isolation)
	switch b.isolation {
	case tenancyv1alpha1.IsolationSharedCollection:
		msg += ": the role reaches the whole shared collection; apply the Secret's filter to every query and write"
	case tenancyv1alpha1.IsolationNotEnforced:
		msg += ": the MongoDB server has no custom roles, so the user is not limited to the tenant's collection"
	}
	return msg
}

// bind resolves the Organization, checks that it allows the namespace and
// what isolation MongoDB can give. A StallingError means the access may
// have no user (the caller revokes it).
func (r *Reconciler) bind(ctx context.Context, b *binding) error {
	a := b.a
	if r.cfg.Server.Mode == ModeDisabled {
		return conditions.Stalled(tenancyv1alpha1.ReasonAccessDisabled,
			"application access is turned off (--access-roles=disabled): nothing is written to MongoDB")
	}
	org, err := r.organizationOf(ctx, a)
	if err != nil {
		return err
	}
	if org == nil {
		return conditions.Stalled(tenancyv1alpha1.ReasonOrganizationNotFound,
			"organization %s does not exist (nor one renamed from it), or is being deleted", lineageStart(a))
	}
	b.org = org
	a.Status.Organization = org.Name
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Get(ctx, client.ObjectKey{Name: a.Namespace}, ns); err != nil {
		return err
	}
	allowed, err := Allowed(org, a.Namespace, ns.Labels)
	if err != nil {
		return conditions.Stalled(tenancyv1alpha1.ReasonAccessNotAllowed, "%v", err)
	}
	if !allowed {
		return conditions.Stalled(tenancyv1alpha1.ReasonAccessNotAllowed, "%s", notAllowedMessage(org.Name, a.Namespace))
	}
	if org.Status.Collection == "" || org.Status.Database == "" {
		return &conditions.WaitingError{Reason: tenancyv1alpha1.ReasonOrganizationNotReady,
			Err: fmt.Errorf("organization %s has no collection yet", org.Name)}
	}
	return r.isolate(ctx, b)
}

// isolate learns what the server enforces and decides the user's roles.
func (r *Reconciler) isolate(ctx context.Context, b *binding) error {
	caps, err := r.cfg.Server.Capabilities(ctx)
	if err != nil {
		return conditions.ClassifyMongo(err)
	}
	if !caps.Users {
		return conditions.Stalled(tenancyv1alpha1.ReasonUsersUnsupported,
			"the MongoDB server has no users (FerretDB v1 runs them only with --test-enable-new-auth)")
	}
	shared := b.org.Status.DocumentFilter != ""
	switch {
	case !caps.Roles && r.cfg.Server.Mode == ModeRequired:
		return conditions.Stalled(tenancyv1alpha1.ReasonRolesUnsupported,
			"the MongoDB server has no custom roles and --access-roles=required")
	case !caps.Roles:
		b.isolation = tenancyv1alpha1.IsolationNotEnforced
	case shared:
		b.isolation = tenancyv1alpha1.IsolationSharedCollection
	default:
		b.isolation = tenancyv1alpha1.IsolationCollection
	}
	if b.a.Spec.RequireIsolation && b.isolation != tenancyv1alpha1.IsolationCollection {
		why := "the MongoDB server has no custom roles"
		if b.isolation == tenancyv1alpha1.IsolationSharedCollection {
			why = "the organization is Shared: its documents sit in a collection with other tenants'"
		}
		return conditions.Stalled(tenancyv1alpha1.ReasonIsolationNotAvailable,
			"spec.requireIsolation is true but MongoDB cannot limit the user to this tenant's documents: %s", why)
	}
	if b.isolation == tenancyv1alpha1.IsolationNotEnforced && b.a.Status.Isolation != tenancyv1alpha1.IsolationNotEnforced {
		r.event(b.a, corev1.EventTypeWarning, EventIsolationNotEnforced,
			"The MongoDB server has no custom roles: the user is created without one and can reach more than organization %s's documents",
			b.org.Name)
	}
	b.a.Status.Isolation = b.isolation
	if caps.Roles {
		b.roles = []string{RoleName(b.org.Name, b.a.AccessRoleOrDefault())}
	}
	return nil
}

// organization is the Organization an access binds to, following a
// rename: one renamed from the named organization that has taken its data
// over; else the named one, unless it is being deleted; else one being
// renamed from it (its data on the way); nil when there is none.
// maxRenameHops bounds the renames organizationOf follows.
const maxRenameHops = 32

// lineageStart is the organization an access's lineage starts from: the one
// it is bound to (status.organization: it followed every rename so far), or
// the one it names before it was ever bound.
func lineageStart(a *tenancyv1alpha1.OrganizationAccess) string {
	if a.Status.Organization != "" {
		return a.Status.Organization
	}
	return a.Spec.Organization
}

// organizationOf is the organization an access reaches: from lineageStart,
// through any number of renames (each rename's old organization is deleted
// once the new one took over, so the chain is followed from the last
// organization the access was bound to); nil when there is none.
func (r *Reconciler) organizationOf(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess) (*tenancyv1alpha1.Organization, error) {
	current, seen := lineageStart(a), map[string]bool{}
	var found *tenancyv1alpha1.Organization
	for range maxRenameHops {
		if seen[current] {
			break // renamed back to a name already visited
		}
		seen[current] = true
		org, err := r.organization(ctx, current)
		if err != nil || org == nil {
			return found, err
		}
		if found = org; org.Name == current {
			return org, nil // the organization itself, not an heir
		}
		current = org.Name
	}
	return found, nil
}

// organization resolves one step: the organization renamed from name (once
// it took over, or while name is gone), else name itself.
func (r *Reconciler) organization(ctx context.Context, name string) (*tenancyv1alpha1.Organization, error) {
	var heirs tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &heirs, client.MatchingFields{RenamedFromIndex: name}); err != nil {
		return nil, err
	}
	var renaming *tenancyv1alpha1.Organization
	for i := range heirs.Items {
		h := &heirs.Items[i]
		if !h.DeletionTimestamp.IsZero() {
			continue
		}
		if h.Status.RenamedFrom == name {
			return h, nil
		}
		renaming = h
	}
	org := &tenancyv1alpha1.Organization{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, org)
	switch {
	case err == nil && org.DeletionTimestamp.IsZero():
		return org, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, err
	}
	return renaming, nil
}

// RenamedFromIndex indexes Organizations by spec.renamedFrom. The
// Organization controller registers it (IndexRenamedFrom); the access
// controller reads it.
const RenamedFromIndex = "spec.renamedFrom"

// IndexRenamedFrom is RenamedFromIndex's index function.
func IndexRenamedFrom(obj client.Object) []string {
	if old := obj.(*tenancyv1alpha1.Organization).Spec.RenamedFrom; old != "" {
		return []string{old}
	}
	return nil
}

// ensureFinalizer adds the finalizer before any user is created. It patches
// a copy (the answer would replace the status this reconcile is building)
// and takes back the metadata.
func (r *Reconciler) ensureFinalizer(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess) error {
	if controllerutil.ContainsFinalizer(a, tenancyv1alpha1.AccessFinalizer) {
		return nil
	}
	patched := a.DeepCopy()
	controllerutil.AddFinalizer(patched, tenancyv1alpha1.AccessFinalizer)
	if err := r.Patch(ctx, patched, client.MergeFromWithOptions(a, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	a.ObjectMeta = patched.ObjectMeta
	return nil
}

// reconcileDelete drops the access's users, deletes its Secrets and
// removes the finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess) error {
	if !controllerutil.ContainsFinalizer(a, tenancyv1alpha1.AccessFinalizer) {
		return nil
	}
	if err := r.revoke(ctx, a); err != nil {
		return err
	}
	r.metrics.forget(a)
	base := a.DeepCopy()
	controllerutil.RemoveFinalizer(a, tenancyv1alpha1.AccessFinalizer)
	return client.IgnoreNotFound(r.Patch(ctx, a, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})))
}

// revoke drops every user of the access, deletes its connection Secrets
// and its record, and forgets them in status. Idempotent; nothing to do
// for an access that never had a user.
func (r *Reconciler) revoke(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess) error {
	rec, err := r.readRecord(ctx, a)
	if err != nil {
		return err
	}
	users := map[string]bool{}
	for _, u := range []string{a.Status.Username, a.Status.PreviousUsername} {
		if u != "" {
			users[u], users[OtherUser(u)] = true, true
		}
	}
	if rec != nil {
		for _, u := range []string{rec.Username, rec.PendingUsername, rec.PreviousUsername} {
			if u != "" {
				users[u], users[OtherUser(u)] = true, true
			}
		}
	}
	if len(users) > 0 && r.cfg.Server.Mode != ModeDisabled {
		for u := range users {
			if _, err := r.cfg.Server.Store.DropUser(ctx, u); err != nil {
				return conditions.ClassifyMongo(err)
			}
		}
		r.event(a, corev1.EventTypeNormal, EventUsersDropped, "Dropped the access's MongoDB users")
	}
	for _, name := range []string{a.Status.SecretName, a.AccessSecretName()} {
		if err := r.deleteConnectionSecret(ctx, a, name); err != nil {
			return err
		}
	}
	if err := r.deleteRecord(ctx, a); err != nil {
		return err
	}
	a.Status.Username, a.Status.PreviousUsername, a.Status.PreviousRetiresAt, a.Status.SecretName = "", "", nil, ""
	return nil
}

// finish writes the status derived from o and turns o into a result: a
// stalled access waits for a watched change, a waiting or failing one is
// retried with backoff, a Ready one comes back at next.
func (r *Reconciler) finish(ctx context.Context, a *tenancyv1alpha1.OrganizationAccess, persisted *tenancyv1alpha1.OrganizationAccessStatus,
	o outcome, next time.Time) (ctrl.Result, error) {
	if apierrors.IsConflict(o.err) {
		return ctrl.Result{RequeueAfter: conflictRequeue}, nil
	}
	applyStatus(a, o)
	if !equality.Semantic.DeepEqual(*persisted, a.Status) {
		base := a.DeepCopy()
		base.Status = *persisted
		if err := r.Status().Patch(ctx, a, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return ctrl.Result{RequeueAfter: conflictRequeue}, nil
			}
			return ctrl.Result{}, err
		}
	}
	if se, ok := conditions.AsStalling(o.err); ok {
		logf.FromContext(ctx).Info("organization access stalled", "reason", se.Reason, "message", se.Message)
		return ctrl.Result{}, nil
	}
	if o.err != nil {
		return ctrl.Result{}, o.err
	}
	if next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(time.Until(next), time.Second)}, nil
}

func (r *Reconciler) event(a *tenancyv1alpha1.OrganizationAccess, eventType, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(a, nil, eventType, reason, "Update", note, args...)
	}
}

// userError classifies a failed user or role command.
func userError(err error) error {
	if errors.Is(err, mongostore.ErrRolesUnsupported) {
		return conditions.Stalled(tenancyv1alpha1.ReasonRolesUnsupported, "%v", err)
	}
	return conditions.ClassifyMongo(err)
}
