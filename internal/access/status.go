package access

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
)

// outcome is what one reconcile of an access achieved; its status is
// derived from it alone.
type outcome struct {
	// err is the error the reconcile ended with (classified as in
	// internal/conditions); nil on success.
	err error
	// deleting is true when the OrganizationAccess is being deleted.
	deleting bool
	// readyMessage describes the access when the reconcile succeeded.
	readyMessage string
}

// applyStatus writes the kstatus conditions and observedGeneration for o.
func applyStatus(a *tenancyv1alpha1.OrganizationAccess, o outcome) {
	setReady(a, o)
	setReconciling(a, o)
	setStalled(a, o)
	_, stalling := conditions.AsStalling(o.err)
	if !o.deleting && (o.err == nil || stalling) {
		a.Status.ObservedGeneration = a.Generation
	}
}

// setReady: True only after a successful reconcile of a live access.
func setReady(a *tenancyv1alpha1.OrganizationAccess, o outcome) {
	status, reason, message := metav1.ConditionFalse, tenancyv1alpha1.ReasonReconcileFailed, ""
	if se, ok := conditions.AsStalling(o.err); ok {
		reason, message = se.Reason, se.Message
	} else if we, ok := conditions.AsWaiting(o.err); ok {
		reason, message = we.Reason, we.Err.Error()
	} else if o.err != nil {
		message = o.err.Error()
	}
	switch {
	case o.err == nil && o.deleting:
		reason, message = tenancyv1alpha1.ReasonDeleting, "The access is being deleted: its users are dropped and its Secret deleted"
	case o.err == nil:
		status, reason, message = metav1.ConditionTrue, tenancyv1alpha1.ReasonSucceeded, o.readyMessage
	case o.deleting:
		message = "Deletion blocked: " + message
	}
	set(a, tenancyv1alpha1.ConditionReady, status, reason, message)
}

// setReconciling: True while work goes on (also while waiting for MongoDB
// or the Organization); removed once Ready or Stalled.
func setReconciling(a *tenancyv1alpha1.OrganizationAccess, o outcome) {
	_, stalling := conditions.AsStalling(o.err)
	if stalling || (o.err == nil && !o.deleting) {
		meta.RemoveStatusCondition(&a.Status.Conditions, tenancyv1alpha1.ConditionReconciling)
		return
	}
	reason, message := tenancyv1alpha1.ReasonProgressing, "Retrying after an error"
	if we, ok := conditions.AsWaiting(o.err); ok {
		reason, message = we.Reason, we.Err.Error()
	}
	if o.deleting {
		reason, message = tenancyv1alpha1.ReasonDeleting, "Dropping the access's users and deleting its Secret"
	}
	set(a, tenancyv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
}

// setStalled: True only for errors that need a human.
func setStalled(a *tenancyv1alpha1.OrganizationAccess, o outcome) {
	se, ok := conditions.AsStalling(o.err)
	if !ok {
		meta.RemoveStatusCondition(&a.Status.Conditions, tenancyv1alpha1.ConditionStalled)
		return
	}
	set(a, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, se.Reason, se.Message)
}

func set(a *tenancyv1alpha1.OrganizationAccess, typ string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&a.Status.Conditions, a.Generation, typ, status, reason, message)
}
