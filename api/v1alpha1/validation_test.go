//go:build integration

package v1alpha1_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/devenv/controlplane"
)

// manifest parses one YAML document into an unstructured object, so invalid
// shapes (unknown fields, wrong types) reach the apiserver as written.
func manifest(doc string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed())
	return u
}

// createStrict creates obj the way kubectl does: unknown fields are errors.
func createStrict(obj client.Object) error {
	return k8sClient.Create(ctx, obj, client.FieldValidation(metav1.FieldValidationStrict))
}

func orgManifest(name, spec string) string {
	return "apiVersion: tenancy.org-operator.io/v1alpha1\nkind: Organization\nmetadata:\n  name: " + name + "\n" + spec
}

const validSpec = `spec:
  admin:
    email: admin@example.com
`

var _ = Describe("Organization CRD", func() {
	It("is installed and served by the apiserver", func() {
		list := &tenancyv1alpha1.OrganizationList{}
		Expect(k8sClient.List(ctx, list)).To(Succeed())
	})

	It("applies the documented defaults", func() {
		org := manifest(orgManifest("defaults", `spec:
  admin:
    email: admin@defaults.example
    passwordSecretRef:
      name: defaults-password
`))
		Expect(createStrict(org)).To(Succeed())
		got := &tenancyv1alpha1.Organization{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "defaults"}, got)).To(Succeed())
		Expect(got.Spec.Tenancy).To(Equal(tenancyv1alpha1.TenancyDedicated))
		Expect(got.Spec.DeletionPolicy).To(Equal(tenancyv1alpha1.DeletionPolicyRetain))
		Expect(got.Spec.Admin.PasswordSecretRef.Key).To(Equal("password"))
	})

	It("accepts the sample manifests", func() {
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "org-operator-credentials"}})).To(Succeed())
		files, err := filepath.Glob(filepath.Join(controlplane.RepoRoot(), "config", "samples", "tenancy_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(4))
		created := map[string]int{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			for _, doc := range strings.Split(string(data), "\n---\n") {
				obj := manifest(doc)
				Expect(createStrict(obj)).To(Succeed(), "sample %s (%s)", f, obj.GetName())
				created[obj.GetKind()]++
			}
		}
		Expect(created).To(Equal(map[string]int{"Organization": 3, "Secret": 1, "OrganizationAccess": 1, "Namespace": 1, "MongoBackend": 1}))
	})

	It("accepts a 63-character name", func() {
		Expect(createStrict(manifest(orgManifest(strings.Repeat("a", 63), validSpec)))).To(Succeed())
	})

	// Issue 25: the rule sat on the field, where it runs only when old and
	// new both have it, so adding renamedFrom to a live Organization was
	// accepted and it took over another tenant's data.
	DescribeTable("never lets spec.renamedFrom be added, changed or removed after creation",
		func(name, created, patch string) {
			Expect(createStrict(manifest(orgManifest(name, created)))).To(Succeed())
			before := &tenancyv1alpha1.Organization{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, before)).To(Succeed())
			err := k8sClient.Patch(ctx, before.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch)))
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring("spec.renamedFrom can only be set when the Organization is created"))
			after := &tenancyv1alpha1.Organization{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, after)).To(Succeed())
			Expect(after.Spec).To(Equal(before.Spec))
		},
		Entry("added", "rename-added", validSpec, `{"spec":{"renamedFrom":"victim"}}`),
		Entry("changed", "rename-changed", validSpec+"  renamedFrom: first\n", `{"spec":{"renamedFrom":"second"}}`),
		Entry("removed", "rename-removed", validSpec+"  renamedFrom: first\n", `{"spec":{"renamedFrom":null}}`),
	)

	It("accepts spec.renamedFrom on creation, and other spec changes next to it", func() {
		Expect(createStrict(manifest(orgManifest("renamed-ok", validSpec+"  renamedFrom: earlier\n")))).To(Succeed())
		org := &tenancyv1alpha1.Organization{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "renamed-ok"}, org)).To(Succeed())
		Expect(k8sClient.Patch(ctx, org, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"displayName":"Still renamed"}}`)))).To(Succeed())
		Expect(org.Spec.RenamedFrom).To(Equal("earlier"))
	})

	DescribeTable("rejects invalid manifests with a readable message and creates nothing",
		func(name, doc string, wantMessages ...string) {
			err := createStrict(manifest(doc))
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(BeTrue(), "unexpected error kind: %v", err)
			for _, m := range wantMessages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
			got := &tenancyv1alpha1.Organization{}
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: name}, got))).To(BeTrue(), "object %q was created", name)
		},
		Entry("uppercase name", "Acme", orgManifest("Acme", validSpec),
			"metadata.name must be a DNS-1123 label"),
		Entry("name longer than 63 characters", strings.Repeat("a", 64), orgManifest(strings.Repeat("a", 64), validSpec),
			"metadata.name must be at most 63 characters"),
		Entry("name with an underscore", "acme_corp", orgManifest("acme_corp", validSpec),
			"metadata.name must be a DNS-1123 label"),
		Entry("name with a dot", "acme.corp", orgManifest("acme.corp", validSpec),
			"metadata.name must be a DNS-1123 label"),
		Entry("missing spec", "nospec", orgManifest("nospec", ""),
			"spec: Required value"),
		Entry("missing admin", "noadmin", orgManifest("noadmin", "spec:\n  displayName: No Admin\n"),
			"spec.admin: Required value"),
		Entry("missing email", "noemail", orgManifest("noemail", "spec:\n  admin: {}\n"),
			"spec.admin.email: Required value"),
		Entry("bad email", "bademail", orgManifest("bademail", "spec:\n  admin:\n    email: not-an-email\n"),
			"email must be an email address such as admin@example.com"),
		Entry("email with a space", "spaceemail", orgManifest("spaceemail", "spec:\n  admin:\n    email: 'ad min@example.com'\n"),
			"email must be an email address"),
		Entry("email longer than 254 characters", "longemail",
			orgManifest("longemail", "spec:\n  admin:\n    email: "+strings.Repeat("a", 250)+"@example.com\n"),
			"spec.admin.email", "Too long: may not be more than 254"),
		Entry("displayName longer than 200 characters", "longdisplay",
			orgManifest("longdisplay", "spec:\n  displayName: "+strings.Repeat("d", 201)+"\n  admin:\n    email: a@b.example\n"),
			"spec.displayName", "Too long: may not be more than 200"),
		Entry("unknown tenancy", "badtenancy", orgManifest("badtenancy", validSpec+"  tenancy: Solo\n"),
			`spec.tenancy: Unsupported value: "Solo"`, `"Dedicated"`, `"Shared"`),
		Entry("unknown deletionPolicy", "badpolicy", orgManifest("badpolicy", validSpec+"  deletionPolicy: Orphan\n"),
			`spec.deletionPolicy: Unsupported value: "Orphan"`, `"Retain"`, `"Delete"`),
		Entry("passwordSecretRef without name", "refnoname",
			orgManifest("refnoname", "spec:\n  admin:\n    email: a@b.example\n    passwordSecretRef:\n      key: password\n"),
			"spec.admin.passwordSecretRef.name: Required value"),
		Entry("passwordSecretRef with an invalid Secret name", "refbadname",
			orgManifest("refbadname", "spec:\n  admin:\n    email: a@b.example\n    passwordSecretRef:\n      name: Bad_Name\n"),
			"name must be a valid Secret name"),
		Entry("passwordSecretRef with an invalid key", "refbadkey",
			orgManifest("refbadkey", "spec:\n  admin:\n    email: a@b.example\n    passwordSecretRef:\n      name: s\n      key: 'pass word'\n"),
			"key must consist of letters, digits"),
		Entry("a password in the spec (unknown field, strict decoding)", "inlinepassword",
			orgManifest("inlinepassword", "spec:\n  admin:\n    email: a@b.example\n    password: hunter2hunter2\n"),
			`unknown field "spec.admin.password"`),
		Entry("an operator object where the email string belongs", "emailobject",
			orgManifest("emailobject", "spec:\n  admin:\n    email:\n      $gt: ''\n"),
			`unknown field "spec.admin.email.$gt"`),
		Entry("a number where the email string belongs", "emailnumber",
			orgManifest("emailnumber", "spec:\n  admin:\n    email: 42\n"),
			"spec.admin.email", "must be of type string"),
	)
})
