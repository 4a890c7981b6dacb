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
// second claimant of the same organization, or a target collection that
// already holds documents, stalls the rename before any data is touched.
func (r *OrganizationReconciler) reconcileRename(ctx context.Context, t *tenant) error {
	org, old := t.org, t.org.Spec.RenamedFrom
	if t.org.Status.Migration == nil {
		if err := r.checkSoleClaim(ctx, org); err != nil {
			return err
		}
		src, found, err := r.renameSource(ctx, old)
		if err != nil {
			return err
		}
		target := r.targetLocation(org)
		if !found {
			if err := r.ensureLocation(ctx, t, target, true); err != nil {
				return err
			}
			return r.finishRename(ctx, t)
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
	return r.finishRename(ctx, t)
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

// renameSource finds the old organization's documents: where its status
// says they are, or, once it is gone, its dedicated collection or its
// documents in the shared collection. found is false when there are none.
func (r *OrganizationReconciler) renameSource(ctx context.Context, old string) (mongostore.Location, bool, error) {
	prev := &tenancyv1alpha1.Organization{}
	err := r.Get(ctx, client.ObjectKey{Name: old}, prev)
	switch {
	case err == nil && prev.Status.Migration != nil:
		return mongostore.Location{}, false, &waitingError{reason: tenancyv1alpha1.ReasonRenameInProgress,
			err: fmt.Errorf("organization %s is moving its documents; the rename waits for that move to end", old)}
	case err == nil && prev.Status.Collection != "":
		l, _ := currentLocation(prev)
		n, cerr := r.Store.CountTenant(ctx, l)
		exists, eerr := r.Store.CollectionExists(ctx, l.Collection)
		if cerr != nil || eerr != nil {
			return l, false, classifyMongo(firstErr(cerr, eerr))
		}
		return l, exists && (n > 0 || !l.Shared()), nil
	case err != nil && !apierrors.IsNotFound(err):
		return mongostore.Location{}, false, err
	}
	dedicated := mongostore.Location{Collection: tenancyv1alpha1.DedicatedCollection(old)}
	exists, err := r.Store.CollectionExists(ctx, dedicated.Collection)
	if err != nil || exists {
		return dedicated, exists, classifyMongo(err)
	}
	shared := mongostore.Location{Collection: r.SharedCollection, Organization: old}
	n, err := r.Store.CountTenant(ctx, shared)
	return shared, n > 0, classifyMongo(err)
}

// renameMethod picks RenameCollection for dedicated to dedicated (one
// database, target absent) and Copy otherwise; a target that already holds
// documents stalls the rename.
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
	return tenancyv1alpha1.MigrationCopy, nil
}

// finishRename re-homes the admin record and records the take-over, which
// releases the old Organization's finalizer.
func (r *OrganizationReconciler) finishRename(ctx context.Context, t *tenant) error {
	old := t.org.Spec.RenamedFrom
	moved, err := r.Store.RehomeAdmin(ctx, old, t.org.Name)
	if err != nil {
		return classifyMongo(err)
	}
	t.org.Status.RenamedFrom = old
	note := "Took over the data of organization %s"
	if moved {
		note += "; its admin account keeps its password, earlier tokens end"
	}
	r.event(t.org, corev1.EventTypeNormal, EventRenamed, actionUpdate, note, old)
	return nil
}

// inheritedPassword is the password of the renamed-from organization's
// credentials Secret, so a rename keeps the admin's password ("" if none).
func (r *OrganizationReconciler) inheritedPassword(ctx context.Context, org *tenancyv1alpha1.Organization) string {
	old := org.Spec.RenamedFrom
	if old == "" {
		return ""
	}
	// The old organization's password source; once it is gone, its own Secret.
	name, key := tenancyv1alpha1.CredentialsSecretName(old), tenancyv1alpha1.SecretKeyPassword
	prev := &tenancyv1alpha1.Organization{}
	if err := r.Get(ctx, client.ObjectKey{Name: old}, prev); err == nil {
		name, key = prev.PasswordSource()
	}
	s := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: r.CredentialsNamespace, Name: name}, s); err != nil {
		return ""
	}
	return string(s.Data[key])
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
