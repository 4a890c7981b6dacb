package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/fieldowners"
)

// EventSignupTakenOver: the platform declared an organization a sign-up
// had created, and what the sign-up brought was voided.
const EventSignupTakenOver = "SignupTakenOver"

// Spec fields a sign-up sets that the platform's declaration voids unless it
// declares them itself.
var signupFields = []fieldpath.Path{
	fieldpath.MakePathOrDie("spec", "admin", "passwordSecretRef"),
	fieldpath.MakePathOrDie("spec", "displayName"),
}

// platformDeclarers returns the field managers other than the operator's
// own (the REST API, the controller) that own part of a sign-up
// organization's spec: the platform declared it (Argo CD, Flux, kubectl).
// Organizations not created by sign-up, and sign-ups nobody else declares,
// give none. The cache keeps managedFields of sign-up organizations only.
func platformDeclarers(org *tenancyv1alpha1.Organization) ([]fieldowners.Entry, []string, error) {
	if !org.SignedUp() {
		return nil, nil, nil
	}
	entries, err := fieldowners.Decode(org)
	if err != nil {
		return nil, nil, err
	}
	return entries, fieldowners.SpecManagers(entries, tenancyv1alpha1.FieldManagerAPI, tenancyv1alpha1.FieldManagerController), nil
}

// reconcileSignupTakeover makes a sign-up organization that the platform
// now declares (Git applied the same name) an ordinary platform-declared
// one, voiding everything the sign-up brought, before anything else is
// done for it: every session is revoked, the sign-up's password Secret
// deleted, and the sign-up label, the password reference and a display
// name only the sign-up set are removed from the Organization (one patch,
// with the resourceVersion it read). The steps that follow in the same
// reconcile then generate a password into <name>-admin and write the admin
// record with the spec's email, raising credentialsVersion, so no token or
// password of the sign-up works afterwards. Each step is idempotent: a
// failure or a crash part-way repeats them on the next reconcile (the label
// goes last).
func (r *OrganizationReconciler) reconcileSignupTakeover(ctx context.Context, t *tenant) error {
	entries, declarers, err := platformDeclarers(t.org)
	if err != nil || len(declarers) == 0 {
		return err
	}
	org := t.org
	if err := r.Store.RevokeOrganizationSessions(ctx, org.Name); err != nil {
		return classifyMongo(err)
	}
	secret, _ := org.PasswordSource()
	if err := r.deleteControlledSecret(ctx, org, secret); err != nil {
		return err
	}
	patch, err := takeoverPatch(org, entries)
	if err != nil {
		return err
	}
	if err := r.Patch(ctx, org, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return fmt.Errorf("void the sign-up of organization %s: %w", org.Name, err)
	}
	t.takenOver = true
	r.event(org, corev1.EventTypeWarning, EventSignupTakenOver, actionUpdate,
		"The platform declared this organization (field managers %s): the sign-up's sessions were revoked, its password Secret %s "+
			"deleted and its label removed; a new admin password is generated into Secret %s",
		strings.Join(declarers, ", "), secret, tenancyv1alpha1.CredentialsSecretName(org.Name))
	return nil
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// takeoverPatch removes the sign-up label and the sign-up fields that only
// the operator's managers own, guarded by the resourceVersion read.
func takeoverPatch(org *tenancyv1alpha1.Organization, entries []fieldowners.Entry) ([]byte, error) {
	ops := []jsonPatchOp{
		{Op: "test", Path: "/metadata/resourceVersion", Value: org.ResourceVersion},
		{Op: "remove", Path: "/metadata/labels/" + jsonPointerEscape(tenancyv1alpha1.LabelCreatedBy)},
	}
	present := map[string]bool{
		".spec.admin.passwordSecretRef": org.Spec.Admin.PasswordSecretRef != nil,
		".spec.displayName":             org.Spec.DisplayName != "",
	}
	for _, p := range signupFields {
		declared := fieldowners.Owners(entries, p, tenancyv1alpha1.FieldManagerAPI, tenancyv1alpha1.FieldManagerController)
		if present[p.String()] && len(declared) == 0 {
			ops = append(ops, jsonPatchOp{Op: "remove", Path: strings.ReplaceAll(p.String(), ".", "/")})
		}
	}
	return json.Marshal(ops)
}

func jsonPointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// deleteControlledSecret deletes the Secret name in the credentials
// namespace if org controls it (a Secret someone else manages is left
// alone); a missing Secret is fine.
func (r *OrganizationReconciler) deleteControlledSecret(ctx context.Context, org *tenancyv1alpha1.Organization, name string) error {
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: r.CredentialsNamespace, Name: name}
	if err := r.Get(ctx, key, secret); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(secret, org) {
		return nil
	}
	err := r.Delete(ctx, secret, client.Preconditions{UID: ptr.To(secret.UID)})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Secret %s: %w", key, err)
	}
	return nil
}

// signupDeclared passes updates of a sign-up organization that another
// field manager declares: such an apply may change no field the other
// predicates look at (Git declaring the very spec the sign-up has).
func signupDeclared() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			org, ok := e.ObjectNew.(*tenancyv1alpha1.Organization)
			if !ok {
				return false
			}
			_, declarers, err := platformDeclarers(org)
			return err == nil && len(declarers) > 0
		},
	}
}
