// Package v1alpha1 contains the v1alpha1 API of the tenancy.org-operator.io group:
// the cluster-scoped Organization resource that declares one tenant, the
// OrganizationAccess that gives an application a MongoDB user of it, and the
// cluster-scoped MongoBackend, a MongoDB deployment that holds tenants.
// +kubebuilder:object:generate=true
// +groupName=tenancy.org-operator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the Organization API.
	GroupVersion = schema.GroupVersion{Group: "tenancy.org-operator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Organization{}, &OrganizationList{}, &OrganizationAccess{}, &OrganizationAccessList{},
		&MongoBackend{}, &MongoBackendList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
