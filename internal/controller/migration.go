package controller

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// DefaultMigrationBatchSize is how many documents are copied per batch.
const DefaultMigrationBatchSize = 100

func toDocLocation(l mongostore.Location) tenancyv1alpha1.DocumentLocation {
	return tenancyv1alpha1.DocumentLocation{Collection: l.Collection, Organization: l.Organization}
}

func fromDocLocation(l tenancyv1alpha1.DocumentLocation) mongostore.Location {
	return mongostore.Location{Collection: l.Collection, Organization: l.Organization}
}

// startMigration claims the target in the ownership ledger (of the
// target's deployment) and records the intent to move documents in
// status, before touching any data, so that a crash at any later point
// resumes the move. from is on the organization's site; to on toSite (the
// same one, or another backend: then both ends name their backend).
func (r *OrganizationReconciler) startMigration(ctx context.Context, t *tenant, from, to mongostore.Location,
	method tenancyv1alpha1.MigrationMethod) error {
	return r.startMove(ctx, t, from, siteLocation{site: r.siteOf(t.org), loc: to}, method)
}

func (r *OrganizationReconciler) startMove(ctx context.Context, t *tenant, from mongostore.Location, to siteLocation,
	method tenancyv1alpha1.MigrationMethod) error {
	here := r.siteOf(t.org)
	if err := r.checkBudget(to.site, t.org, to.loc); err != nil {
		return err
	}
	if err := r.claimLocation(ctx, to.site, t.org, to.loc); err != nil {
		to.site.budget.release(t.org.Name)
		return err
	}
	now := metav1.Now()
	src, dst := toDocLocation(from), toDocLocation(to.loc)
	if to.site.name != here.name {
		src.Backend, dst.Backend = here.name, to.site.name
	}
	t.org.Status.Migration = &tenancyv1alpha1.MigrationStatus{
		Source: src, Target: dst, Phase: tenancyv1alpha1.MigrationCopying, Method: method, StartedAt: &now,
	}
	if err := r.persistStatus(ctx, t); err != nil {
		return err
	}
	r.event(t.org, corev1.EventTypeNormal, EventMigrationStarted, actionUpdate, "Moving documents from %s to %s",
		describeEnd(src), describeEnd(dst))
	return r.runMigration(ctx, t)
}

// describeEnd names one end of a move, with its backend when it has one.
func describeEnd(l tenancyv1alpha1.DocumentLocation) string {
	s := fromDocLocation(l).String()
	if l.Backend != "" {
		s += " on backend " + l.Backend
	}
	return s
}

// runMigration drives the move recorded in status.migration to its end:
//
//	Copying:  copy in batches (idempotent by _id; progress in status), verify
//	          that source and target hold the same number of the tenant's
//	          documents, then switch status.collection (and, for a move
//	          between backends, status.backend) to the target;
//	Switched: remove the source (drop the dedicated collection, or delete the
//	          tenant's documents from the shared one), release its ledger
//	          entry, then clear the move.
//
// Every step is safe to repeat, so an interruption anywhere resumes here
// with every document present exactly once at the end. A move between
// backends reads the source through its deployment's client and writes the
// target through the other's.
func (r *OrganizationReconciler) runMigration(ctx context.Context, t *tenant) error {
	m := t.org.Status.Migration
	src, dst := fromDocLocation(m.Source), fromDocLocation(m.Target)
	srcSite, dstSite := r.siteAt(t.org, m.Source), r.siteAt(t.org, m.Target)
	// Applications lose their write actions before any document moves
	// (and get them back, at the target, once the move is over).
	if err := r.reconcileAccessRoles(ctx, t); err != nil {
		return err
	}
	if m.Phase == tenancyv1alpha1.MigrationCopying {
		var err error
		switch m.Method {
		case tenancyv1alpha1.MigrationRenameCollection:
			err = r.renameCollection(ctx, t, src, dst)
		case tenancyv1alpha1.MigrationRelabel:
			err = r.relabel(ctx, t, src, dst)
		default:
			err = r.copyAndVerify(ctx, t, siteLocation{site: srcSite, loc: src}, siteLocation{site: dstSite, loc: dst})
		}
		if err != nil {
			return err
		}
		r.setLocation(dstSite, t.org, dst)
		m.Phase = tenancyv1alpha1.MigrationSwitched
		if err := r.persistStatus(ctx, t); err != nil {
			return err
		}
		if err := r.reconcileAccessRoles(ctx, t); err != nil {
			return err
		}
	}
	if err := r.confirmSwitched(ctx, t.org); err != nil {
		return err
	}
	if m.Method == tenancyv1alpha1.MigrationCopy {
		if _, err := srcSite.store.RemoveTenant(ctx, src); err != nil {
			return classifyMongo(err)
		}
	}
	if err := srcSite.store.ReleaseLocation(ctx, src, r.ClusterID); err != nil {
		return classifyMongo(err)
	}
	if srcSite.name != dstSite.name {
		srcSite.budget.release(t.org.Name)
	}
	r.event(t.org, corev1.EventTypeNormal, EventMigrationCompleted, actionUpdate,
		"Moved %d documents from %s to %s", m.Copied, describeEnd(m.Source), describeEnd(m.Target))
	t.org.Status.Migration = nil
	return nil
}

// confirmSwitched reads the Organization from the apiserver, past the
// cache, before the source of a move is removed: the only step that
// destroys data. The removal goes ahead only when the stored status records
// this same move as switched; a reconcile working from a stale cached copy
// (the move finished, or another one started since) gets a conflict and is
// retried on the current object.
func (r *OrganizationReconciler) confirmSwitched(ctx context.Context, org *tenancyv1alpha1.Organization) error {
	live := &tenancyv1alpha1.Organization{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(org), live); err != nil {
		return err
	}
	m, stored := org.Status.Migration, live.Status.Migration
	if stored == nil || stored.Phase != tenancyv1alpha1.MigrationSwitched || stored.Source != m.Source || stored.Target != m.Target ||
		!sameSecond(stored.StartedAt, m.StartedAt) {
		return apierrors.NewConflict(tenancyv1alpha1.GroupVersion.WithResource("organizations").GroupResource(), org.Name,
			fmt.Errorf("the stored status no longer records the move from %s to %s as switched", m.Source.Collection, m.Target.Collection))
	}
	return nil
}

// sameSecond compares two times as the apiserver stores them (to the second).
func sameSecond(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Unix() == b.Unix()
}

func (r *OrganizationReconciler) copyAndVerify(ctx context.Context, t *tenant, src, dst siteLocation) error {
	m := t.org.Status.Migration
	if _, err := dst.site.store.EnsureLocation(ctx, dst.loc); err != nil {
		return classifyMongo(err)
	}
	total, err := src.site.store.CountTenant(ctx, src.loc)
	if err != nil {
		return classifyMongo(err)
	}
	m.Total = total
	err = r.copyTenant(ctx, src, dst, func(read int64) error {
		m.Copied = read
		return r.persistStatus(ctx, t)
	})
	if errors.Is(err, mongostore.ErrDocumentConflict) {
		return stalled(tenancyv1alpha1.ReasonMigrationConflict, "cannot move documents to %s: %v; nothing was removed from %s", dst.loc, err, src.loc)
	}
	if err != nil {
		return classifyMongo(err)
	}
	srcN, err := src.site.store.CountTenant(ctx, src.loc)
	if err != nil {
		return classifyMongo(err)
	}
	dstN, err := dst.site.store.CountTenant(ctx, dst.loc)
	if err != nil {
		return classifyMongo(err)
	}
	if srcN != dstN {
		return fmt.Errorf("verification failed: %s holds %d of the tenant's documents and %s holds %d; "+
			"the move is retried (applications must not write the tenant's documents while Migrating is True)", src.loc, srcN, dst.loc, dstN)
	}
	m.Copied, m.Total = dstN, srcN
	return nil
}

// copyTenant copies within one deployment (one command stream), or
// between two: batches read from the source's client are inserted through
// the target's.
func (r *OrganizationReconciler) copyTenant(ctx context.Context, src, dst siteLocation, afterBatch func(read int64) error) error {
	if src.site.name == dst.site.name {
		return src.site.store.CopyTenant(ctx, src.loc, dst.loc, r.batchSize(), afterBatch)
	}
	var read int64
	return src.site.store.ScanTenant(ctx, src.loc, dst.loc, r.batchSize(), func(docs []any) error {
		if err := dst.site.store.InsertTenantDocuments(ctx, dst.loc, docs); err != nil {
			return err
		}
		read += int64(len(docs))
		return afterBatch(read)
	})
}

// renameCollection moves a dedicated collection in place. After a crash the
// rename may already have happened: a missing source with an existing
// target means done.
func (r *OrganizationReconciler) renameCollection(ctx context.Context, t *tenant, src, dst mongostore.Location) error {
	srcExists, err := r.siteOf(t.org).store.CollectionExists(ctx, src.Collection)
	if err != nil {
		return classifyMongo(err)
	}
	if srcExists {
		if err := r.siteOf(t.org).store.RenameCollection(ctx, src.Collection, dst.Collection); err != nil {
			return classifyMongo(err)
		}
	}
	n, err := r.siteOf(t.org).store.CountTenant(ctx, dst)
	if err != nil {
		return classifyMongo(err)
	}
	t.org.Status.Migration.Copied, t.org.Status.Migration.Total = n, n
	return nil
}

// relabel moves a tenant's documents to another organization of the same
// shared collection by rewriting their tenant field, then verifies that
// none is left under the old name. Repeating it after a crash rewrites the
// rest; nothing is copied, so nothing is removed afterwards.
func (r *OrganizationReconciler) relabel(ctx context.Context, t *tenant, src, dst mongostore.Location) error {
	if _, err := r.siteOf(t.org).store.EnsureLocation(ctx, dst); err != nil {
		return classifyMongo(err)
	}
	if _, err := r.siteOf(t.org).store.RelabelTenant(ctx, src, dst); err != nil {
		return classifyMongo(err)
	}
	left, err := r.siteOf(t.org).store.CountTenant(ctx, src)
	if err != nil {
		return classifyMongo(err)
	}
	n, err := r.siteOf(t.org).store.CountTenant(ctx, dst)
	if err != nil {
		return classifyMongo(err)
	}
	if left != 0 {
		return fmt.Errorf("verification failed: %s still holds %d of the tenant's documents after relabelling to %s; "+
			"the rename is retried (applications must not write the tenant's documents while Migrating is True)", src, left, dst)
	}
	t.org.Status.Migration.Copied, t.org.Status.Migration.Total = n, n
	return nil
}

func (r *OrganizationReconciler) batchSize() int {
	if r.MigrationBatchSize > 0 {
		return r.MigrationBatchSize
	}
	return DefaultMigrationBatchSize
}

// persistStatus writes the status now, in the middle of a reconcile: a move
// records each step before taking the next, and shows its progress.
func (r *OrganizationReconciler) persistStatus(ctx context.Context, t *tenant) error {
	applyStatus(t.org, outcome{migrating: true})
	if err := r.patchStatus(ctx, t.org, t.persisted); err != nil {
		return err
	}
	t.persisted = t.org.Status.DeepCopy()
	return nil
}
