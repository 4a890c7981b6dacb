package access

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// fakeUsers is a Store that remembers each user's password; failSetUser
// makes the next SetUser fail after doing nothing (a crash before MongoDB
// answered).
type fakeUsers struct {
	Store
	passwords   map[string]string
	failSetUser bool
}

func (f *fakeUsers) SetUser(_ context.Context, name, password string, _ []string) error {
	if f.failSetUser {
		f.failSetUser = false
		return errors.New("connection reset")
	}
	f.passwords[name] = password
	return nil
}

func (f *fakeUsers) AccessCapabilities(context.Context) (mongostore.AccessCapabilities, error) {
	return mongostore.AccessCapabilities{Users: true}, nil
}

func newTestReconciler(t *testing.T, objs ...client.Object) (*Reconciler, *fakeUsers) {
	t.Helper()
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), tenancyv1alpha1.AddToScheme(s)); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	users := &fakeUsers{passwords: map[string]string{}}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	return &Reconciler{Client: c, APIReader: c, cfg: Config{Server: NewServer(users, ModeAuto), CredentialsNamespace: "creds",
		RotationGrace: time.Minute, ResyncPeriod: time.Hour}, now: func() time.Time { return now }}, users
}

func readRecordOf(t *testing.T, r *Reconciler, a *tenancyv1alpha1.OrganizationAccess) *record {
	t.Helper()
	rec, err := r.readRecord(context.Background(), a)
	if err != nil || rec == nil {
		t.Fatalf("record: %v %v", rec, err)
	}
	return rec
}

// A crash between recording the new password and setting it in MongoDB:
// the next reconcile sets the same password and publishes it; nothing
// published is ever a password MongoDB does not hold.
func TestRotationResumesAfterACrash(t *testing.T) {
	ctx := context.Background()
	a := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "app", UID: "u1"},
		Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: "acme"}}
	org := orgAt("acme", "org_acme", false, false)
	r, users := newTestReconciler(t)
	b := &binding{a: a, org: org, next: r.now().Add(time.Hour)}

	users.failSetUser = true
	if err := r.reconcileCredentials(ctx, b); err == nil {
		t.Fatal("the failed SetUser was not reported")
	}
	rec := readRecordOf(t, r, a)
	if rec.Username != "" || rec.PendingUsername != "oa.acme.u1.a" || rec.PendingPassword == "" {
		t.Fatalf("after the crash: %+v", rec)
	}
	pending := rec.PendingPassword

	if err := r.reconcileCredentials(ctx, b); err != nil {
		t.Fatal(err)
	}
	rec = readRecordOf(t, r, a)
	if rec.Username != "oa.acme.u1.a" || rec.Password != pending || rec.PendingUsername != "" {
		t.Fatalf("after the retry: %+v, want the pending password published", rec)
	}
	if users.passwords["oa.acme.u1.a"] != pending {
		t.Fatal("MongoDB does not hold the published password")
	}
	if a.Status.Username != "oa.acme.u1.a" || a.Status.RotatedAt == nil {
		t.Fatalf("status: %+v", a.Status)
	}

	// A rotation crashes the same way: the Secret keeps user a (still
	// accepted) until b holds its new password.
	a.Annotations = map[string]string{tenancyv1alpha1.AnnotationRotate: "now"}
	users.failSetUser = true
	if err := r.reconcileCredentials(ctx, b); err == nil {
		t.Fatal("the failed SetUser was not reported")
	}
	rec = readRecordOf(t, r, a)
	if rec.Username != "oa.acme.u1.a" || rec.Password != pending || rec.PendingUsername != "oa.acme.u1.b" {
		t.Fatalf("mid-rotation: %+v", rec)
	}
	if err := r.reconcileCredentials(ctx, b); err != nil {
		t.Fatal(err)
	}
	rec = readRecordOf(t, r, a)
	if rec.Username != "oa.acme.u1.b" || users.passwords["oa.acme.u1.b"] != rec.Password {
		t.Fatalf("after the rotation: %+v", rec)
	}
	if a.Status.PreviousUsername != "oa.acme.u1.a" || a.Status.RotateRequest != "now" {
		t.Fatalf("status after the rotation: %+v", a.Status)
	}
	s := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: "creds", Name: "oa-u1"}, s); err != nil {
		t.Fatal(err)
	}
	if s.Labels[tenancyv1alpha1.LabelAccessOrganization] != "acme" || s.Labels[tenancyv1alpha1.LabelAccessNamespace] != "apps" {
		t.Fatalf("record labels %v", s.Labels)
	}
}

// dropped records DropUser calls (fakeUsers has none of its own).
func (f *fakeUsers) DropUser(_ context.Context, name string) (bool, error) {
	_, ok := f.passwords[name]
	delete(f.passwords, name)
	return ok, nil
}

// Found by the chaos suite: the status write after the first user was lost
// (kube-apiserver restarted), and a rotation came before the next one. The
// replaced user must still retire after the grace period: the record, not
// status, says which user retires.
func TestAReplacedUserRetiresWhenStatusWasLost(t *testing.T) {
	ctx := context.Background()
	a := &tenancyv1alpha1.OrganizationAccess{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "app", UID: "u1"},
		Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: "acme"}}
	org := orgAt("acme", "org_acme", false, false)
	r, users := newTestReconciler(t)
	b := &binding{a: a, org: org, next: r.now().Add(time.Hour)}
	if err := r.reconcileCredentials(ctx, b); err != nil {
		t.Fatal(err)
	}
	a.Status = tenancyv1alpha1.OrganizationAccessStatus{} // the status write was lost
	a.Annotations = map[string]string{tenancyv1alpha1.AnnotationRotate: "now"}
	if err := r.reconcileCredentials(ctx, b); err != nil {
		t.Fatal(err)
	}
	if a.Status.Username != "oa.acme.u1.b" || a.Status.PreviousUsername != "oa.acme.u1.a" || a.Status.PreviousRetiresAt == nil {
		t.Fatalf("status after the rotation: %+v", a.Status)
	}
	later := r.now().Add(2 * time.Minute)
	r.now = func() time.Time { return later }
	if err := r.retirePrevious(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, ok := users.passwords["oa.acme.u1.a"]; ok {
		t.Fatal("the replaced user was never dropped")
	}
	if _, ok := users.passwords["oa.acme.u1.b"]; !ok || a.Status.PreviousUsername != "" || readRecordOf(t, r, a).PreviousUsername != "" {
		t.Fatalf("after retirement: status %+v", a.Status)
	}
}

// Found by the chaos suite: an access bound to acme followed the rename
// acme -> b, but lost its organization at the next rename b -> c (the
// access names acme, and b, the link between them, is gone). The lineage
// is followed from the organization the access is bound to, over any
// number of renames.
func TestRenamesAreFollowedFromTheBoundOrganization(t *testing.T) {
	c := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Spec:   tenancyv1alpha1.OrganizationSpec{RenamedFrom: "b"},
		Status: tenancyv1alpha1.OrganizationStatus{RenamedFrom: "b"}}
	d := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: tenancyv1alpha1.OrganizationSpec{RenamedFrom: "c"}} // a rename of c under way: c still exists
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), tenancyv1alpha1.AddToScheme(s)); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(c, d).
		WithIndex(&tenancyv1alpha1.Organization{}, RenamedFromIndex, IndexRenamedFrom).Build()
	r := &Reconciler{Client: cl}
	a := &tenancyv1alpha1.OrganizationAccess{Spec: tenancyv1alpha1.OrganizationAccessSpec{Organization: "acme"},
		Status: tenancyv1alpha1.OrganizationAccessStatus{Organization: "b"}}
	org, err := r.organizationOf(context.Background(), a)
	if err != nil || org == nil || org.Name != "c" {
		t.Fatalf("bound to b, renamed to c (d still taking over): got %v, %v; want c", org, err)
	}
	a.Status.Organization = ""
	if org, err := r.organizationOf(context.Background(), a); err != nil || org != nil {
		t.Fatalf("never bound, naming acme (gone, and b too): got %v, %v; want none", org, err)
	}
}
