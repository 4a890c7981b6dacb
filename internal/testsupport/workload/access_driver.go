package workload

import (
	"context"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// GrantAccess creates an OrganizationAccess for organization in
// AppNamespace, as an application team does, and returns its key.
func (d *Driver) GrantAccess(ctx context.Context, organization string) (string, error) {
	if d.AppNamespace == "" {
		return "", fmt.Errorf("grant access: the driver has no AppNamespace")
	}
	a := &tenancyv1alpha1.OrganizationAccess{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.AppNamespace, Name: fmt.Sprintf("app-%03d", d.accessSeq.Add(1))},
		Spec:       tenancyv1alpha1.OrganizationAccessSpec{Organization: organization},
	}
	if err := d.K8s.Create(ctx, a); err != nil {
		return "", fmt.Errorf("grant access to %s: %w", organization, err)
	}
	m := &Access{Namespace: a.Namespace, Name: a.Name, UID: string(a.UID), Organization: organization}
	d.Model.AddAccess(m)
	return m.Key(), nil
}

// RotateAccess asks for new credentials at once (the rotate annotation).
func (d *Driver) RotateAccess(ctx context.Context, key string) error {
	a := d.Model.Access(key)
	if a == nil {
		return fmt.Errorf("rotate: access %s is not live", key)
	}
	value := strconv.FormatInt(time.Now().UnixNano(), 10)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, tenancyv1alpha1.AnnotationRotate, value)
	obj := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Name}}
	if err := d.K8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("rotate %s: %w", key, err)
	}
	d.Model.UpdateAccess(key, func(a *Access) { a.Rotate = value })
	return nil
}

// RevokeAccess deletes an OrganizationAccess (without waiting for its finalizer).
func (d *Driver) RevokeAccess(ctx context.Context, key string) error {
	a := d.Model.Access(key)
	if a == nil {
		return fmt.Errorf("revoke: access %s is not live", key)
	}
	obj := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Name}}
	if err := d.K8s.Delete(ctx, obj); err != nil {
		return fmt.Errorf("revoke %s: %w", key, err)
	}
	d.Model.DeleteAccess(key)
	return nil
}
