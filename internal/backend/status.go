package backend

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/conditions"
)

// applyStatus writes a MongoBackend's kstatus conditions from the outcome
// of its reconcile (err nil: connected and observed): Ready True only then;
// Stalled for what needs a human (a missing Secret, an invalid URI, a second
// default, tenants left at deletion); Reconciling while it waits (for the
// first observation, or for an unreachable deployment). observedGeneration
// follows a verdict (Ready or Stalled).
func applyStatus(b *tenancyv1alpha1.MongoBackend, err error) {
	gen := b.Generation
	set := func(typ string, status metav1.ConditionStatus, reason, message string) {
		conditions.Set(&b.Status.Conditions, gen, typ, status, reason, message)
	}
	se, stalling := conditions.AsStalling(err)
	we, waiting := conditions.AsWaiting(err)
	switch {
	case err == nil:
		set(tenancyv1alpha1.ConditionReady, metav1.ConditionTrue, tenancyv1alpha1.ReasonSucceeded,
			"The deployment answers and its ownership ledger is readable")
	case stalling:
		set(tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, se.Reason, se.Message)
	case waiting:
		set(tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, we.Reason, we.Err.Error())
	default:
		set(tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonReconcileFailed, err.Error())
	}
	if stalling {
		set(tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, se.Reason, se.Message)
	} else {
		meta.RemoveStatusCondition(&b.Status.Conditions, tenancyv1alpha1.ConditionStalled)
	}
	switch {
	case err == nil || stalling:
		meta.RemoveStatusCondition(&b.Status.Conditions, tenancyv1alpha1.ConditionReconciling)
	case waiting:
		set(tenancyv1alpha1.ConditionReconciling, metav1.ConditionTrue, we.Reason, we.Err.Error())
	default:
		set(tenancyv1alpha1.ConditionReconciling, metav1.ConditionTrue, tenancyv1alpha1.ReasonProgressing, "Retrying after an error")
	}
	if err == nil || stalling {
		b.Status.ObservedGeneration = gen
	}
}
