package workload

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/check"
)

// accesses reports how the applications' accesses differ from the model:
//   - a live access is Ready for its generation, bound to the model's
//     organization (renames followed), has handled the last rotate request,
//     has exactly one MongoDB user (two while the previous one's grace
//     period runs), and its Secret points at the organization's current
//     location and authenticates on a fresh connection;
//   - an access of a deleted organization is Stalled (OrganizationNotFound)
//     with no user and no Secret;
//   - a deleted access has no object, no user and no Secret;
//   - no MongoDB user of the access naming scheme belongs to no access.
func (c *Checker) accesses(ctx context.Context, m *Model) []string {
	if c.AppNamespace == "" {
		return nil
	}
	var list tenancyv1alpha1.OrganizationAccessList
	if err := c.K8s.List(ctx, &list, client.InNamespace(c.AppNamespace)); err != nil {
		return []string{"list OrganizationAccesses: " + err.Error()}
	}
	names, err := c.DB.Users(ctx, tenancyv1alpha1.AccessUserPrefix)
	if err != nil {
		return []string{"usersInfo: " + err.Error()}
	}
	users := map[string][]string{} // by access UID
	var out []string
	for _, u := range names {
		parts := strings.Split(strings.TrimPrefix(u, tenancyv1alpha1.AccessUserPrefix), ".")
		if len(parts) != 3 {
			out = append(out, "MongoDB user "+u+" has the access prefix but not its naming scheme")
			continue
		}
		users[parts[1]] = append(users[parts[1]], u)
	}
	seen := map[string]bool{}
	for i := range list.Items {
		obj := &list.Items[i]
		key := obj.Namespace + "/" + obj.Name
		seen[key] = true
		a := m.Access(key)
		switch {
		case a == nil:
			out = append(out, fmt.Sprintf("OrganizationAccess %s exists but the workload deleted it (deletionTimestamp %v, finalizers %v)",
				key, obj.DeletionTimestamp, obj.Finalizers))
		case a.Orphaned:
			out = append(out, c.orphanedAccess(ctx, obj, users[a.UID])...)
		default:
			out = append(out, c.liveAccess(ctx, obj, a, users[a.UID])...)
		}
		delete(users, string(obj.UID))
	}
	for _, a := range m.Accesses() {
		if !seen[a.Key()] {
			out = append(out, "OrganizationAccess "+a.Key()+" is missing")
		}
	}
	for _, a := range m.DeletedAccesses() {
		out = append(out, c.secretGone(ctx, a.Namespace, a.Name, "deleted access "+a.Key())...)
	}
	for _, uid := range slices.Sorted(maps.Keys(users)) {
		out = append(out, fmt.Sprintf("MongoDB users %v belong to no OrganizationAccess", users[uid]))
	}
	return out
}

func (c *Checker) liveAccess(ctx context.Context, obj *tenancyv1alpha1.OrganizationAccess, a *Access, users []string) []string {
	key := a.Key()
	ready := meta.FindStatusCondition(obj.Status.Conditions, tenancyv1alpha1.ConditionReady)
	switch {
	case obj.DeletionTimestamp != nil:
		return []string{"OrganizationAccess " + key + " is being deleted"}
	case ready == nil || ready.Status != metav1.ConditionTrue || obj.Status.ObservedGeneration != obj.Generation ||
		ready.ObservedGeneration != obj.Generation:
		return []string{fmt.Sprintf("OrganizationAccess %s is not Ready for generation %d: %v", key, obj.Generation, ready)}
	case obj.Status.Organization != a.Organization:
		return []string{fmt.Sprintf("OrganizationAccess %s is bound to %q, want %q", key, obj.Status.Organization, a.Organization)}
	case a.Rotate != "" && obj.Status.RotateRequest != a.Rotate:
		return []string{fmt.Sprintf("OrganizationAccess %s has not handled rotate request %s (handled %q)", key, a.Rotate, obj.Status.RotateRequest)}
	}
	var out []string
	want := []string{obj.Status.Username}
	if p := obj.Status.PreviousRetiresAt; obj.Status.PreviousUsername != "" && p != nil && time.Now().Before(p.Time) {
		want = append(want, obj.Status.PreviousUsername) // still in its grace period
	}
	if !slices.Contains(users, obj.Status.Username) || len(users) == 0 || !subset(users, want) {
		out = append(out, fmt.Sprintf("OrganizationAccess %s: MongoDB users %v, want %s (and only the previous user during its grace period)",
			key, users, obj.Status.Username))
	}
	org := &tenancyv1alpha1.Organization{}
	if err := c.K8s.Get(ctx, client.ObjectKey{Name: a.Organization}, org); err != nil {
		return append(out, fmt.Sprintf("OrganizationAccess %s: get Organization %s: %v", key, a.Organization, err))
	}
	s := &corev1.Secret{}
	if err := c.K8s.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: obj.Status.SecretName}, s); err != nil {
		return append(out, fmt.Sprintf("OrganizationAccess %s: Secret %s: %v", key, obj.Status.SecretName, err))
	}
	filter := org.Status.DocumentFilter
	if filter == "" {
		filter = "{}"
	}
	coll, db := string(s.Data[tenancyv1alpha1.AccessKeyCollection]), string(s.Data[tenancyv1alpha1.AccessKeyDatabase])
	if coll != org.Status.Collection || string(s.Data[tenancyv1alpha1.AccessKeyFilter]) != filter {
		out = append(out, fmt.Sprintf("OrganizationAccess %s: its Secret names %s %s, the organization is at %s %s",
			key, coll, s.Data[tenancyv1alpha1.AccessKeyFilter], org.Status.Collection, filter))
	}
	if string(s.Data[tenancyv1alpha1.AccessKeyUsername]) != obj.Status.Username {
		out = append(out, fmt.Sprintf("OrganizationAccess %s: its Secret holds user %s, status says %s", key,
			s.Data[tenancyv1alpha1.AccessKeyUsername], obj.Status.Username))
	}
	if err := check.Authenticates(ctx, string(s.Data[tenancyv1alpha1.AccessKeyURI]), db, coll); err != nil {
		out = append(out, fmt.Sprintf("OrganizationAccess %s: its Secret's credentials do not work: %v", key, err))
	}
	return out
}

func (c *Checker) orphanedAccess(ctx context.Context, obj *tenancyv1alpha1.OrganizationAccess, users []string) []string {
	key := obj.Namespace + "/" + obj.Name
	var out []string
	stalled := meta.FindStatusCondition(obj.Status.Conditions, tenancyv1alpha1.ConditionStalled)
	if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != tenancyv1alpha1.ReasonOrganizationNotFound {
		out = append(out, fmt.Sprintf("OrganizationAccess %s of a deleted organization is not Stalled (OrganizationNotFound): %v", key, stalled))
	}
	if len(users) > 0 {
		out = append(out, fmt.Sprintf("OrganizationAccess %s of a deleted organization still has MongoDB users %v", key, users))
	}
	return append(out, c.secretGone(ctx, obj.Namespace, obj.Name, "access "+key+" of a deleted organization")...)
}

// secretGone reports the Secret namespace/name still there.
func (c *Checker) secretGone(ctx context.Context, namespace, name, whose string) []string {
	err := c.K8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &corev1.Secret{})
	switch {
	case err == nil:
		return []string{"the connection Secret of " + whose + " still exists"}
	case !apierrors.IsNotFound(err):
		return []string{"get Secret: " + err.Error()}
	}
	return nil
}

func subset(got, allowed []string) bool {
	for _, g := range got {
		if !slices.Contains(allowed, g) {
			return false
		}
	}
	return true
}
