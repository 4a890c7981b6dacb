package access

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// Allowed reports whether org's spec.access lets applications of the
// namespace ns (with labels nsLabels) bind to it: ns is listed, or its
// labels match the selector. Without spec.access no namespace may. A
// selector that does not parse allows nothing and is returned as an error.
func Allowed(org *tenancyv1alpha1.Organization, ns string, nsLabels map[string]string) (bool, error) {
	p := org.Spec.Access
	if p == nil {
		return false, nil
	}
	if slices.Contains(p.Namespaces, ns) {
		return true, nil
	}
	if p.NamespaceSelector == nil {
		return false, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(p.NamespaceSelector)
	if err != nil {
		return false, fmt.Errorf("spec.access.namespaceSelector of organization %s: %w", org.Name, err)
	}
	return sel.Matches(labels.Set(nsLabels)), nil
}

// notAllowedMessage tells the platform which field to change.
func notAllowedMessage(org, ns string) string {
	return fmt.Sprintf("organization %s does not allow namespace %s: add it to the Organization's spec.access.namespaces, "+
		"or label the namespace to match spec.access.namespaceSelector", org, ns)
}
