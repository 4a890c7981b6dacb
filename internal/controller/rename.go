package controller

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// renamedFromIndex indexes Organizations by spec.renamedFrom.
const renamedFromIndex = "spec.renamedFrom"

// claimants lists the Organizations whose spec.renamedFrom is name.
func (r *OrganizationReconciler) claimants(ctx context.Context, name string) ([]tenancyv1alpha1.Organization, error) {
	var list tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &list, client.MatchingFields{renamedFromIndex: name}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// renamedTo returns the Organization that took over (or is taking over)
// name's data, or nil. With several claimants none is returned: they are
// Stalled and nothing moves.
func (r *OrganizationReconciler) renamedTo(ctx context.Context, name string) (*tenancyv1alpha1.Organization, error) {
	heirs, err := r.claimants(ctx, name)
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
	org, old := t.org, t.org.Spec.RenamedFrom
	if t.org.Status.Migration == nil {
		if err := r.checkSoleClaim(ctx, org); err != nil {
			return err
		}
		src, owner, found, err := r.renameSource(ctx, old)
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
			if owner != "" {
				if err := r.Store.ReleaseLocation(ctx, src, r.ClusterID); err != nil {
					return classifyMongo(err)
				}
			}
			return r.rehomeAdmin(ctx, t)
		}
		method, err := r.renameMethod(ctx, src, target)
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

func (r *OrganizationReconciler) checkSoleClaim(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	heirs, err := r.claimants(ctx, org.Spec.RenamedFrom)
	if err != nil {
		return err
	}
	if len(heirs) > 1 {
		names := make([]string, 0, len(heirs))
		for _, h := range heirs {
			names = append(names, h.Name)
		}
		return stalled(tenancyv1alpha1.ReasonRenameConflict, "organizations %v all claim to be renamed from %s; keep one of them (no data was touched)",
			names, org.Spec.RenamedFrom)
	}
	return nil
}

// renameSource finds the old organization's documents and the UID of their
// owner: where its status says they are while it exists, else where its
// ledger entries say (refusing data another cluster owns), else, for data
// placed before the ledger, its dedicated collection or its documents in
// the shared collection. found is false when there are none.
func (r *OrganizationReconciler) renameSource(ctx context.Context, old string) (src mongostore.Location, owner string, found bool, err error) {
	prev := &tenancyv1alpha1.Organization{}
	err = r.Get(ctx, client.ObjectKey{Name: old}, prev)
	switch {
	case err == nil && prev.Status.Migration != nil:
		return src, "", false, &waitingError{reason: tenancyv1alpha1.ReasonRenameInProgress,
			err: fmt.Errorf("organization %s is moving its documents; the rename waits for that move to end", old)}
	case err == nil && prev.Status.Collection != "":
		l, _ := currentLocation(prev)
		n, cerr := r.Store.CountTenant(ctx, l)
		exists, eerr := r.Store.CollectionExists(ctx, l.Collection)
		if cerr != nil || eerr != nil {
			return l, "", false, classifyMongo(firstErr(cerr, eerr))
		}
		return l, string(prev.UID), exists && (n > 0 || !l.Shared()), nil
	case err != nil && !apierrors.IsNotFound(err):
		return src, "", false, err
	}
	candidates := []mongostore.Location{{Collection: tenancyv1alpha1.DedicatedCollection(old)},
		{Collection: r.SharedCollection, Organization: old}}
	for _, l := range candidates {
		entry, err := r.Store.GetLedgerEntry(ctx, l)
		switch {
		case err != nil:
			return l, "", false, classifyMongo(err)
		case entry == nil || entry.Name != old:
			continue
		case entry.Cluster != r.ClusterID:
			return l, "", false, stalled(tenancyv1alpha1.ReasonOwnedByAnotherCluster,
				"the data of organization %s at %s belongs to cluster %s in the ownership ledger; this cluster (%s) does not take it over",
				old, l, entry.Cluster, r.ClusterID)
		default:
			return l, entry.UID, true, nil
		}
	}
	dedicated := candidates[0]
	exists, err := r.Store.CollectionExists(ctx, dedicated.Collection)
	if err != nil || exists {
		return dedicated, "", exists, classifyMongo(err)
	}
	shared := candidates[1]
	n, err := r.Store.CountTenant(ctx, shared)
	return shared, "", n > 0, classifyMongo(err)
}

// renameMethod picks RenameCollection for dedicated to dedicated (one
// database, target absent), Relabel within the shared collection, and Copy
// otherwise; a target that already holds documents stalls the rename.
func (r *OrganizationReconciler) renameMethod(ctx context.Context, src, target mongostore.Location) (tenancyv1alpha1.MigrationMethod, error) {
	n, err := r.Store.CountTenant(ctx, target)
	if err != nil {
		return "", classifyMongo(err)
	}
	if n > 0 {
		return "", stalled(tenancyv1alpha1.ReasonRenameTargetTaken,
			"%s already holds %d documents; the rename would mix them with the renamed data (no data was touched)", target, n)
	}
	exists, err := r.Store.CollectionExists(ctx, target.Collection)
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
// password; credentialsVersion increased so old tokens end).
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
