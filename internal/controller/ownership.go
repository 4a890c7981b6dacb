package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Ownership: the ledger (mongostore.LedgerCollection) says, beside the
// data, which Organization (name, UID, cluster) owns which location. An
// Organization claims a location in the ledger before it creates or moves
// any data there, and it is never given data it does not own:
//
//   - no entry, no documents: the location is claimed;
//   - no entry but documents (data nobody claims): Stalled RetainedDataExists,
//     unless the platform adopts it (annotation adopt-data=unowned);
//   - an entry of another cluster: Stalled OwnedByAnotherCluster, always;
//   - an active entry of an earlier Organization of the same name (the
//     operator never processed its deletion: a restore from a backup or Git
//     after the cluster was lost): taken over, with a Normal event, unless
//     the new Organization was created by sign-up (a sign-up is never a
//     restore: Stalled RetainedDataExists until the platform adopts it with
//     adopt-data=<old uid>);
//   - a retained entry (its Organization was deleted with Retain): Stalled
//     RetainedDataExists, unless the platform adopts it by naming the old
//     UID (annotation adopt-data=<uid>).
//
// A stalled claim reads, writes and drops nothing. The REST API never sets
// the annotation.

// Event reasons of ownership decisions.
const (
	EventRestored = "Restored"
	EventAdopted  = "Adopted"
)

// claimLocation makes org the owner of l in the ledger (see above).
func (r *OrganizationReconciler) claimLocation(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location) error {
	entry, err := s.ledgerEntry(ctx, l)
	if err != nil {
		return classifyMongo(err)
	}
	if entry == nil {
		has, err := s.locationHasData(ctx, l)
		if err != nil {
			return classifyMongo(err)
		}
		if !has {
			return r.claim(ctx, s, org, l, false)
		}
		// Data is there: the observation may predate its owner's entry.
		if entry, err = s.store.GetLedgerEntry(ctx, l); err != nil {
			return classifyMongo(err)
		}
		if entry == nil {
			return r.claimUnowned(ctx, s, org, l)
		}
	}
	adopt := org.Annotations[tenancyv1alpha1.AnnotationAdoptData]
	switch {
	case entry.Cluster != r.ClusterID:
		return stalled(tenancyv1alpha1.ReasonOwnedByAnotherCluster,
			"%s belongs to organization %s (uid %s) of cluster %s in the ownership ledger; this cluster (%s) never adopts or drops it",
			l, entry.Name, entry.UID, entry.Cluster, r.ClusterID)
	case entry.UID == string(org.UID):
		return nil
	case entry.State == mongostore.LedgerActive && entry.Name == org.Name && !org.SignedUp():
		return r.takeOver(ctx, s, org, l, entry, EventRestored,
			"%s belonged to an earlier Organization %s (uid %s) whose deletion the operator never processed: taken over as a restore")
	case entry.State == mongostore.LedgerActive && entry.Name == org.Name && adopt == entry.UID:
		return r.takeOver(ctx, s, org, l, entry, EventAdopted,
			"Adopted %s of an earlier organization %s (uid %s), as the annotation "+tenancyv1alpha1.AnnotationAdoptData+" asks")
	case entry.State == mongostore.LedgerActive && entry.Name == org.Name:
		return stalled(tenancyv1alpha1.ReasonRetainedDataExists,
			"%s belongs to an earlier organization %s (uid %s) whose deletion was never processed; an organization created by "+
				"sign-up is never its restore, so nothing was read, written or dropped. To give it to this organization, annotate it %s=%s",
			l, entry.Name, entry.UID, tenancyv1alpha1.AnnotationAdoptData, entry.UID)
	case entry.State == mongostore.LedgerRetained && adopt == entry.UID:
		return r.takeOver(ctx, s, org, l, entry, EventAdopted,
			"Adopted %s, retained from organization %s (uid %s), as the annotation "+tenancyv1alpha1.AnnotationAdoptData+" asks")
	case entry.State == mongostore.LedgerRetained:
		return stalled(tenancyv1alpha1.ReasonRetainedDataExists,
			"%s holds the data of organization %s (uid %s), kept since %s (deletionPolicy Retain); nothing was read, written or dropped. "+
				"To give it to this organization, annotate it %s=%s",
			l, entry.Name, entry.UID, retainedSince(entry), tenancyv1alpha1.AnnotationAdoptData, entry.UID)
	default:
		return stalled(tenancyv1alpha1.ReasonRetainedDataExists,
			"%s belongs to organization %s (uid %s) in the ownership ledger; nothing was read, written or dropped", l, entry.Name, entry.UID)
	}
}

// claimUnowned handles documents no ledger entry claims: they are given
// only on the platform's explicit word (annotation adopt-data=unowned).
func (r *OrganizationReconciler) claimUnowned(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location) error {
	if org.Annotations[tenancyv1alpha1.AnnotationAdoptData] != tenancyv1alpha1.AdoptUnowned {
		return stalled(tenancyv1alpha1.ReasonRetainedDataExists,
			"%s already holds documents that no organization owns (no ownership ledger entry); nothing was read, written or dropped. "+
				"To give them to this organization, annotate it %s=%s (`manager audit` lists such data)",
			l, tenancyv1alpha1.AnnotationAdoptData, tenancyv1alpha1.AdoptUnowned)
	}
	return r.claim(ctx, s, org, l, true)
}

// claim records org as the owner of l; a location claimed meanwhile is
// looked at again (with its new entry) on the next attempt.
func (r *OrganizationReconciler) claim(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location, adopting bool) error {
	err := s.store.ClaimLocation(ctx, mongostore.NewLedgerEntry(l, org.Name, string(org.UID), r.ClusterID, time.Now()))
	if errors.Is(err, mongostore.ErrLocationClaimed) {
		return fmt.Errorf("%s was claimed meanwhile: %w", l, err)
	}
	if err == nil && adopting {
		r.event(org, corev1.EventTypeNormal, EventAdopted, actionUpdate,
			"Adopted the documents at %s that no organization owned, as the annotation %s asks", l, tenancyv1alpha1.AnnotationAdoptData)
	}
	return classifyMongo(err)
}

func (r *OrganizationReconciler) takeOver(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location,
	entry *mongostore.LedgerEntry, reason, note string) error {
	err := s.store.TransferLocation(ctx, l, entry.UID, r.ClusterID, org.Name, string(org.UID), time.Now())
	if err != nil {
		return classifyMongo(err)
	}
	r.event(org, corev1.EventTypeNormal, reason, actionUpdate, note, l, entry.Name, entry.UID)
	return nil
}

func retainedSince(e *mongostore.LedgerEntry) string {
	if e.RetainedAt == nil {
		return "an unknown time"
	}
	return e.RetainedAt.Format(time.RFC3339)
}

// ledgerEntry is the entry of l: from the observation when it knows, else read.
func (s *site) ledgerEntry(ctx context.Context, l mongostore.Location) (*mongostore.LedgerEntry, error) {
	if e, known := s.observed.ledgerEntry(l); known {
		return e, nil
	}
	return s.store.GetLedgerEntry(ctx, l)
}

// locationHasData reports whether l holds any document. A dedicated
// collection is counted (one cheap command: documents written after the
// last observation must not be given away). A tenant's share of the shared
// collection is taken from the observation's per-tenant counts when it has
// them, because a filtered count scans the whole shared collection on
// FerretDB: documents an application wrote there for a tenant that has no
// Organization, after the last observation, are not seen until the next one.
func (s *site) locationHasData(ctx context.Context, l mongostore.Location) (bool, error) {
	if n, known := s.observed.documents(l); known && l.Shared() {
		return n > 0, nil
	}
	n, err := s.store.CountTenant(ctx, l)
	return n > 0, err
}

// owns reports whether org owns l: its ledger entry names org's UID in this
// cluster (of the deployment s), or, for an organization placed before the
// ledger existed, there is no entry and l (on s) is where its status says
// its documents are.
func (r *OrganizationReconciler) owns(ctx context.Context, s *site, org *tenancyv1alpha1.Organization, l mongostore.Location) (
	bool, *mongostore.LedgerEntry, error) {
	entry, err := s.store.GetLedgerEntry(ctx, l)
	if err != nil {
		return false, nil, err
	}
	if entry == nil {
		current, placed := currentLocation(org)
		return placed && current == l && r.siteOf(org).name == s.name, nil, nil
	}
	return entry.Cluster == r.ClusterID && entry.UID == string(org.UID), entry, nil
}
