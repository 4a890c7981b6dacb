package controller

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
)

// outcome is what one reconcile achieved; the status is derived from it alone.
type outcome struct {
	// err is the error the reconcile ended with; nil on success.
	err error
	// deleting is true when the Organization is being deleted.
	deleting bool
	// readyMessage describes the tenant when the reconcile succeeded.
	readyMessage string
	// migrating is true while a document move is under way (status written
	// between its steps).
	migrating bool
	// paused is true when the reconcile stopped at the pause annotation.
	paused bool
}

// applyStatus writes the kstatus conditions and observedGeneration for o.
// A paused reconcile changes only the Paused condition: the others keep
// describing the last state the controller produced.
func applyStatus(org *tenancyv1alpha1.Organization, o outcome) {
	setPausedCondition(org, o)
	if o.paused {
		return
	}
	setReadyCondition(org, o)
	setReconcilingCondition(org, o)
	setStalledCondition(org, o)
	setMigratingCondition(org)
	setObservedGeneration(org, o)
}

// setReadyCondition: True only after a successful reconcile of a live
// Organization; otherwise False with the reason that blocks it.
func setReadyCondition(org *tenancyv1alpha1.Organization, o outcome) {
	status, reason, message := metav1.ConditionFalse, tenancyv1alpha1.ReasonReconcileFailed, ""
	if se, ok := asStalling(o.err); ok {
		reason, message = se.Reason, se.Message
	} else if we, ok := asWaiting(o.err); ok {
		reason, message = we.Reason, we.Err.Error()
	} else if o.err != nil {
		message = o.err.Error()
	}
	switch {
	case o.err == nil && o.deleting:
		reason, message = tenancyv1alpha1.ReasonDeleting, "The organization is being deleted"
	case o.err == nil && o.migrating:
		reason, message = tenancyv1alpha1.ReasonMigrating, migrationMessage(org.Status.Migration)
	case o.err == nil:
		status, reason, message = metav1.ConditionTrue, tenancyv1alpha1.ReasonSucceeded, o.readyMessage
	case o.deleting:
		message = "Deletion blocked: " + message
	}
	setCondition(org, tenancyv1alpha1.ConditionReady, status, reason, message)
}

// setReconcilingCondition: True while work towards the desired state is
// still going on (including waiting for MongoDB); removed once Ready or Stalled.
func setReconcilingCondition(org *tenancyv1alpha1.Organization, o outcome) {
	_, stalling := asStalling(o.err)
	if stalling || (o.err == nil && !o.deleting && !o.migrating) {
		meta.RemoveStatusCondition(&org.Status.Conditions, tenancyv1alpha1.ConditionReconciling)
		return
	}
	reason, message := tenancyv1alpha1.ReasonProgressing, "Retrying after an error"
	if o.migrating {
		reason, message = tenancyv1alpha1.ReasonMigrating, "Moving the tenant's documents"
	}
	if we, ok := asWaiting(o.err); ok {
		reason, message = we.Reason, "Waiting for MongoDB to become reachable"
	}
	if o.deleting {
		reason, message = tenancyv1alpha1.ReasonDeleting, "Cleaning up the organization's data"
	}
	setCondition(org, tenancyv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
}

// setStalledCondition: True only for errors that need a human.
func setStalledCondition(org *tenancyv1alpha1.Organization, o outcome) {
	se, ok := asStalling(o.err)
	if !ok {
		meta.RemoveStatusCondition(&org.Status.Conditions, tenancyv1alpha1.ConditionStalled)
		return
	}
	setCondition(org, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, se.Reason, se.Message)
}

// setPausedCondition: True while reconciliation is paused; removed otherwise.
func setPausedCondition(org *tenancyv1alpha1.Organization, o outcome) {
	if !o.paused {
		meta.RemoveStatusCondition(&org.Status.Conditions, tenancyv1alpha1.ConditionPaused)
		return
	}
	setCondition(org, tenancyv1alpha1.ConditionPaused, metav1.ConditionTrue, tenancyv1alpha1.ReasonReconcileDisabled,
		fmt.Sprintf("Reconciliation is paused by the annotation %s: %s: nothing is written to MongoDB or Secrets "+
			"for this organization until it is removed (deleting it still cleans up)",
			tenancyv1alpha1.AnnotationReconcile, tenancyv1alpha1.ReconcileDisabled))
}

// setObservedGeneration records the generation once a reconcile of it
// finished with a verdict: Ready, or Stalled (which needs a spec or reference
// change, so tools such as kstatus must see it as the current generation's
// final state). Waiting and transient errors leave it unchanged.
func setObservedGeneration(org *tenancyv1alpha1.Organization, o outcome) {
	_, stalling := asStalling(o.err)
	if !o.deleting && !o.migrating && (o.err == nil || stalling) {
		org.Status.ObservedGeneration = org.Generation
	}
}

// setMigratingCondition: True with progress while status.migration is set.
func setMigratingCondition(org *tenancyv1alpha1.Organization) {
	m := org.Status.Migration
	if m == nil {
		meta.RemoveStatusCondition(&org.Status.Conditions, tenancyv1alpha1.ConditionMigrating)
		return
	}
	setCondition(org, tenancyv1alpha1.ConditionMigrating, metav1.ConditionTrue, string(m.Phase), migrationMessage(m))
}

func migrationMessage(m *tenancyv1alpha1.MigrationStatus) string {
	if m == nil {
		return ""
	}
	src, dst := describeEnd(m.Source), describeEnd(m.Target)
	if m.Phase == tenancyv1alpha1.MigrationSwitched {
		return fmt.Sprintf("Documents moved to %s (%d); removing the copy at %s", dst, m.Copied, src)
	}
	return fmt.Sprintf("Copying documents from %s to %s: %d of %d copied", src, dst, m.Copied, m.Total)
}

func setCondition(org *tenancyv1alpha1.Organization, typ string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&org.Status.Conditions, org.Generation, typ, status, reason, message)
}
