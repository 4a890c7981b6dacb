package controller

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/access"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// renamedFromIndex indexes Organizations by spec.renamedFrom (the access
// controller reads it too).
const renamedFromIndex = access.RenamedFromIndex

// claimants lists the Organizations whose spec.renamedFrom is name.
func (r *OrganizationReconciler) claimants(ctx context.Context, name string) ([]tenancyv1alpha1.Organization, error) {
	var list tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &list, client.MatchingFields{renamedFromIndex: name}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// heirs lists the Organizations renamed from org whose take-over concerns
// this Organization, not an earlier one of the same name (see concerns).
func (r *OrganizationReconciler) heirs(ctx context.Context, org *tenancyv1alpha1.Organization) ([]tenancyv1alpha1.Organization, error) {
	all, err := r.claimants(ctx, org.Name)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, h := range all {
		if concerns(&h, org.UID) {
			out = append(out, h)
		}
	}
	return out, nil
}

// concerns reports whether heir's rename concerns the incarnation uid of
// the organization it names in spec.renamedFrom ("" when none exists now).
// A finished take-over concerns only the incarnation whose UID it pinned
// (status.renamedFromUID): after A -> B, a new A (B renamed back, or a
// newcomer) is no heir's business. An unfinished one concerns any
// incarnation unless it pinned another.
func concerns(heir *tenancyv1alpha1.Organization, uid types.UID) bool {
	pinned := types.UID(heir.Status.RenamedFromUID)
	if heir.Status.RenamedFrom != "" {
		return uid != "" && pinned == uid
	}
	return pinned == "" || uid == "" || pinned == uid
}

// renamedTo returns the Organization that took over (or is taking over)
// org's data, or nil. With several claimants none is returned: they are
// Stalled and nothing moves.
func (r *OrganizationReconciler) renamedTo(ctx context.Context, org *tenancyv1alpha1.Organization) (*tenancyv1alpha1.Organization, error) {
	heirs, err := r.heirs(ctx, org)
	if err != nil || len(heirs) != 1 {
		return nil, err
	}
	return &heirs[0], nil
}

// reconcileRename takes over the data of spec.renamedFrom: the documents
// (a dedicated collection is renamed in place within the database, anything
// else is copied like a tenancy switch), then the admin record (same
// password, credentialsVersion increased so old tokens end). The intent is
// recorded in status before any data moves, so a crash resumes the move. A
// second claimant of the same organization, a target collection that
// already holds documents, or data another cluster owns stalls the rename
// before any data is touched. The take-over counts as finished
// (status.renamedFrom) only once the credentials are in place too
// (completeRename): until then the old Organization's deletion waits, and
// the old password can still be inherited.
func (r *OrganizationReconciler) reconcileRename(ctx context.Context, t *tenant) error {
	org := t.org
	if t.org.Status.Migration == nil {
		src, owner, found, err := r.renameSource(ctx, org)
		if err != nil {
			return err
		}
		if org.Status.RenamedFromUID == "" {
			org.Status.RenamedFromUID = owner // the organization the password may come from
		}
		target := r.targetLocation(org)
		if !found {
			// Nothing to move: the old organization's (empty) place is
			// taken over all the same, and forgotten.
			if err := r.ensureLocation(ctx, t, target, true); err != nil {
				return err
			}
			if owner != "" && src.Collection != "" {
				if err := r.siteOf(org).store.ReleaseLocation(ctx, src, r.ClusterID); err != nil {
					return classifyMongo(err)
				}
			}
			return r.rehomeAdmin(ctx, t)
		}
		method, err := r.renameMethod(ctx, r.siteOf(org), src, target)
		if err != nil {
			return err
		}
		if err := r.startMigration(ctx, t, src, target, method); err != nil {
			return err
		}
	} else if err := r.runMigration(ctx, t); err != nil {
		return err
	}
	return r.rehomeAdmin(ctx, t)
}

// checkSoleClaim stalls org when other Organizations claim the same
// incarnation (uid; "" when none exists now) of the organization it is
// renamed from.
func (r *OrganizationReconciler) checkSoleClaim(ctx context.Context, org *tenancyv1alpha1.Organization, uid types.UID) error {
	all, err := r.claimants(ctx, org.Spec.RenamedFrom)
	if err != nil {
		return err
	}
	var names []string
	for _, h := range all {
		if h.UID == org.UID || concerns(&h, uid) {
			names = append(names, h.Name)
		}
	}
	if len(names) > 1 {
		return stalled(tenancyv1alpha1.ReasonRenameConflict, "organizations %v all claim to be renamed from %s; keep one of them (no data was touched)",
			names, org.Spec.RenamedFrom)
	}
	return nil
}

// renameSource finds the documents of the organization org is renamed from
// and the UID of their owner, after checking that org is its sole claimant:
// where its status says they are while it exists (nothing, if it was never
// placed), else where its ledger entries say, else, for data no entry
// claims, its dedicated collection or its documents in the shared
// collection. Data another cluster owns is refused; the data of an
// organization that is gone (retained at its deletion, or claimed by no
// entry) is taken over only when the platform adopts it with the
// annotation adopt-data naming the old UID (or "unowned"), as for any
// other Organization. found is false when there is nothing to move.
func (r *OrganizationReconciler) renameSource(ctx context.Context, org *tenancyv1alpha1.Organization) (
	src mongostore.Location, owner string, found bool, err error) {
	old := org.Spec.RenamedFrom
	prev := &tenancyv1alpha1.Organization{}
	err = r.Get(ctx, client.ObjectKey{Name: old}, prev)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return src, "", false, err
	case err == nil:
		if err := r.checkSoleClaim(ctx, org, prev.UID); err != nil {
			return src, "", false, err
		}
		if from, to := prev.BackendOf(), org.BackendOf(); from != "" && to != "" && from != to {
			return src, "", false, stalled(tenancyv1alpha1.ReasonBackendMoveUnsupported,
				"organization %s lives on backend %s and this one on %s: a rename that also changes the backend is not supported yet; "+
					"name the same backend (or none) in spec.backend", old, from, to)
		}
		return r.liveRenameSource(ctx, prev)
	}
	if err := r.checkSoleClaim(ctx, org, ""); err != nil {
		return src, "", false, err
	}
	adopt := org.Annotations[tenancyv1alpha1.AnnotationAdoptData]
	site := r.siteOf(org)
	candidates := []mongostore.Location{{Collection: tenancyv1alpha1.DedicatedCollection(old)},
		{Collection: site.shared, Organization: old}}
	for _, l := range candidates {
		entry, err := site.store.GetLedgerEntry(ctx, l)
		switch {
		case err != nil:
			return l, "", false, classifyMongo(err)
		case entry == nil || entry.Name != old:
			continue
		case entry.Cluster != r.ClusterID:
			return l, "", false, stalled(tenancyv1alpha1.ReasonOwnedByAnotherCluster,
				"the data of organization %s at %s belongs to cluster %s in the ownership ledger; this cluster (%s) does not take it over",
				old, l, entry.Cluster, r.ClusterID)
		case entry.State == mongostore.LedgerRetained && adopt != entry.UID:
			return l, "", false, stalled(tenancyv1alpha1.ReasonRetainedDataExists,
				"organization %s is gone and its data at %s was retained when it was deleted (uid %s); nothing was moved. "+
					"To take it over in this rename, annotate this Organization %s=%s",
				old, l, entry.UID, tenancyv1alpha1.AnnotationAdoptData, entry.UID)
		default:
			return l, entry.UID, true, nil
		}
	}
	return r.unownedRenameSource(ctx, site, old, candidates, adopt)
}

// liveRenameSource is the data of prev, the existing Organization a rename
// takes over: where its status says, pinned to its UID; nothing when it
// was never placed; a move of its own makes the rename wait.
func (r *OrganizationReconciler) liveRenameSource(ctx context.Context, prev *tenancyv1alpha1.Organization) (
	mongostore.Location, string, bool, error) {
	if prev.Status.Migration != nil {
		return mongostore.Location{}, "", false, &waitingError{Reason: tenancyv1alpha1.ReasonRenameInProgress,
			Err: fmt.Errorf("organization %s is moving its documents; the rename waits for that move to end", prev.Name)}
	}
	l, placed := currentLocation(prev)
	if !placed {
		return l, string(prev.UID), false, nil
	}
	site := r.siteOf(prev)
	n, cerr := site.store.CountTenant(ctx, l)
	exists, eerr := site.store.CollectionExists(ctx, l.Collection)
	if cerr != nil || eerr != nil {
		return l, "", false, classifyMongo(firstErr(cerr, eerr))
	}
	return l, string(prev.UID), exists && (n > 0 || !l.Shared()), nil
}

// unownedRenameSource looks for data no ledger entry claims at the places
// of old, an organization that is gone: none is fine (nothing to move);
// some is taken only with the annotation adopt-data=unowned.
func (r *OrganizationReconciler) unownedRenameSource(ctx context.Context, site *site, old string, candidates []mongostore.Location, adopt string) (
	mongostore.Location, string, bool, error) {
	dedicated, shared := candidates[0], candidates[1]
	l, found := dedicated, false
	exists, err := site.store.CollectionExists(ctx, dedicated.Collection)
	if err != nil {
		return l, "", false, classifyMongo(err)
	}
	if exists {
		found = true
	} else {
		n, err := site.store.CountTenant(ctx, shared)
		if err != nil {
			return shared, "", false, classifyMongo(err)
		}
		l, found = shared, n > 0
	}
	if found && adopt != tenancyv1alpha1.AdoptUnowned {
		return l, "", false, stalled(tenancyv1alpha1.ReasonRetainedDataExists,
			"organization %s is gone and %s holds data no organization owns (no ownership ledger entry); nothing was moved. "+
				"To take it over in this rename, annotate this Organization %s=%s",
			old, l, tenancyv1alpha1.AnnotationAdoptData, tenancyv1alpha1.AdoptUnowned)
	}
	return l, "", found, nil
}

// renameMethod picks RenameCollection for dedicated to dedicated (one
// database, target absent), Relabel within the shared collection, and Copy
// otherwise; a target that already holds documents stalls the rename.
func (r *OrganizationReconciler) renameMethod(ctx context.Context, site *site, src, target mongostore.Location) (tenancyv1alpha1.MigrationMethod, error) {
	n, err := site.store.CountTenant(ctx, target)
	if err != nil {
		return "", classifyMongo(err)
	}
	if n > 0 {
		return "", stalled(tenancyv1alpha1.ReasonRenameTargetTaken,
			"%s already holds %d documents; the rename would mix them with the renamed data (no data was touched)", target, n)
	}
	exists, err := site.store.CollectionExists(ctx, target.Collection)
	if err != nil {
		return "", classifyMongo(err)
	}
	if !src.Shared() && !target.Shared() && !exists {
		return tenancyv1alpha1.MigrationRenameCollection, nil
	}
	if src.Shared() && target.Shared() && src.Collection == target.Collection {
		return tenancyv1alpha1.MigrationRelabel, nil
	}
	return tenancyv1alpha1.MigrationCopy, nil
}

// rehomeAdmin moves the old organization's admin record to this one (same
// password; credentialsVersion increased so old tokens end). Admin records
// live on the default site, wherever the data is.
func (r *OrganizationReconciler) rehomeAdmin(ctx context.Context, t *tenant) error {
	moved, err := r.Store.RehomeAdmin(ctx, t.org.Spec.RenamedFrom, t.org.Name)
	t.rehomed = t.rehomed || moved
	return classifyMongo(err)
}

// completeRename records, once every step succeeded (documents, admin record
// and credentials), that the take-over is finished: the old Organization's
// deletion may then proceed.
func (r *OrganizationReconciler) completeRename(t *tenant) {
	old := t.org.Spec.RenamedFrom
	if old == "" || t.org.Status.RenamedFrom != "" {
		return
	}
	t.org.Status.RenamedFrom = old
	note := "Took over the data of organization %s"
	if t.rehomed {
		note += "; its admin account keeps its password, earlier tokens end"
	}
	r.event(t.org, corev1.EventTypeNormal, EventRenamed, actionUpdate, note, old)
}

// inheritedPassword is the old organization's password (or the argon2id
// hash its Secret holds instead), so that a rename keeps it (both "" if
// none). It comes only from the organization whose data was taken over (its
// UID pinned in status.renamedFromUID when the take-over started), only
// while the take-over is unfinished, and only from a Secret labelled for
// that organization.
func (r *OrganizationReconciler) inheritedPassword(ctx context.Context, org *tenancyv1alpha1.Organization) (pw, hash string) {
	old := org.Spec.RenamedFrom
	if old == "" || org.Status.RenamedFrom != "" {
		return "", ""
	}
	prev := &tenancyv1alpha1.Organization{}
	if err := r.Get(ctx, client.ObjectKey{Name: old}, prev); err != nil || string(prev.UID) != org.Status.RenamedFromUID {
		return "", ""
	}
	name, key := prev.PasswordSource()
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: r.CredentialsNamespace, Name: name}, s)
	if err != nil || s.Labels[tenancyv1alpha1.LabelOrganization] != old {
		return "", ""
	}
	if h := s.Data[tenancyv1alpha1.SecretKeyPasswordHash]; len(h) > 0 {
		return "", string(h)
	}
	return string(s.Data[key]), ""
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
