package workload

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/apiclient"
	"github.com/org-operator/org-operator/internal/testsupport/check"
	"github.com/org-operator/org-operator/internal/testsupport/seed"
)

// FieldManager is the field manager the workload writes Organizations with,
// as a platform team's tooling would.
const FieldManager = "workload-platform"

// Driver performs the workload's actions and records each in Model once
// the request that makes it was accepted. Every action is one or two
// requests: none waits for the controller (callers converge afterwards).
type Driver struct {
	K8s client.Client
	DB  *check.Mongo
	// Writer writes the documents an application would.
	Writer *seed.Mongo
	APIURL string
	// Shared is the shared collection, CredentialsNamespace where the
	// operator keeps credentials Secrets.
	Shared               string
	CredentialsNamespace string
	// AppNamespace, when set, is where the workload's applications live:
	// every organization allows it (spec.access) and GrantAccess creates
	// OrganizationAccess objects there.
	AppNamespace string
	Model        *Model
	accessSeq    atomic.Int64
}

// Checker returns a checker for the same system.
func (d *Driver) Checker() *Checker {
	return &Checker{K8s: d.K8s, DB: d.DB, APIURL: d.APIURL, Shared: d.Shared, CredentialsNamespace: d.CredentialsNamespace,
		AppNamespace: d.AppNamespace}
}

func (d *Driver) newOrganization(name, email string, tenancy tenancyv1alpha1.Tenancy, policy tenancyv1alpha1.DeletionPolicy) *tenancyv1alpha1.Organization {
	o := &tenancyv1alpha1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: tenancyv1alpha1.OrganizationSpec{DisplayName: "Tenant " + name, Admin: tenancyv1alpha1.AdminSpec{Email: email},
			Tenancy: tenancy, DeletionPolicy: policy},
	}
	if d.AppNamespace != "" {
		o.Spec.Access = &tenancyv1alpha1.AccessPolicy{Namespaces: []string{d.AppNamespace}}
	}
	return o
}

// Create declares a new organization. Its password is read by Seed, once
// it is Ready.
func (d *Driver) Create(ctx context.Context, name string, tenancy tenancyv1alpha1.Tenancy, policy tenancyv1alpha1.DeletionPolicy) error {
	email := "admin@" + name + ".example"
	if err := d.K8s.Create(ctx, d.newOrganization(name, email, tenancy, policy), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	d.Model.Add(&Tenant{Name: name, Tenancy: tenancy, Policy: policy, Email: email, Docs: map[string]int{}})
	return nil
}

// Seed writes n documents to a Ready tenant's location, as its application
// would, and reads its generated password the first time.
func (d *Driver) Seed(ctx context.Context, name string, n int) error {
	t := d.Model.Get(name)
	if t == nil {
		return fmt.Errorf("seed: %s is not live", name)
	}
	if t.Password == "" {
		s := &corev1.Secret{}
		if err := d.K8s.Get(ctx, client.ObjectKey{Namespace: d.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(name)}, s); err != nil {
			return err
		}
		pw := string(s.Data[tenancyv1alpha1.SecretKeyPassword])
		d.Model.Update(name, func(t *Tenant) { t.Password = pw })
	}
	coll, filtered := t.Location(d.Shared)
	docs := make([]any, 0, n)
	ids := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("%s-%04d", name, len(t.Docs)+i)
		doc := map[string]any{"_id": id, "n": int32(i), "payload": "document " + id}
		if filtered {
			doc[tenantField] = name
		}
		docs = append(docs, doc)
		ids[id] = i
	}
	if n > 0 {
		if err := d.Writer.InsertMany(ctx, coll, docs); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	d.Model.Update(name, func(t *Tenant) {
		for id, i := range ids {
			t.Docs[id] = i
		}
		t.Seeded = true
	})
	return nil
}

// Delete deletes an organization (without waiting for its finalizer).
func (d *Driver) Delete(ctx context.Context, name string) error {
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := d.K8s.Delete(ctx, org); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	d.Model.Delete(name, d.Shared)
	return nil
}

// Flip switches a tenant Dedicated <-> Shared and returns the new tenancy.
func (d *Driver) Flip(ctx context.Context, name string) (tenancyv1alpha1.Tenancy, error) {
	t := d.Model.Get(name)
	if t == nil {
		return "", fmt.Errorf("flip: %s is not live", name)
	}
	to := tenancyv1alpha1.TenancyShared
	if t.Tenancy == tenancyv1alpha1.TenancyShared {
		to = tenancyv1alpha1.TenancyDedicated
	}
	patch := fmt.Sprintf(`{"spec":{"tenancy":%q}}`, to)
	org := &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := d.K8s.Patch(ctx, org, client.RawPatch(types.MergePatchType, []byte(patch)), client.FieldOwner(FieldManager)); err != nil {
		return "", fmt.Errorf("flip %s: %w", name, err)
	}
	d.Model.Update(name, func(t *Tenant) { t.Tenancy = to })
	return to, nil
}

// Rename declares to with spec.renamedFrom: from and deletes from. With
// pruneFirst the old organization is deleted first (the order Argo CD may
// use; the operator handles it when both land before it acts, so callers
// do it while the manager is down).
func (d *Driver) Rename(ctx context.Context, from, to string, pruneFirst bool) error {
	t := d.Model.Get(from)
	if t == nil {
		return fmt.Errorf("rename: %s is not live", from)
	}
	n := d.newOrganization(to, t.Email, t.Tenancy, t.Policy)
	n.Spec.RenamedFrom = from
	create := func() error { return d.K8s.Create(ctx, n, client.FieldOwner(FieldManager)) }
	remove := func() error {
		return d.K8s.Delete(ctx, &tenancyv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: from}})
	}
	steps := []func() error{create, remove}
	if pruneFirst {
		steps = []func() error{remove, create}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("rename %s -> %s: %w", from, to, err)
		}
	}
	return d.Model.Rename(from, to, t.Tenancy)
}

// Login logs the admin of name in and returns the access and refresh tokens.
func (d *Driver) Login(ctx context.Context, name string) (access, refresh string, err error) {
	t := d.Model.Get(name)
	if t == nil {
		return "", "", fmt.Errorf("login: %s is not live", name)
	}
	r, err := login(ctx, d.APIURL, t.Email, t.Password)
	if err != nil {
		return "", "", err
	}
	if r.Status != http.StatusOK {
		return "", "", fmt.Errorf("login %s: %d %s", name, r.Status, r.Body)
	}
	var pair struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(r.Body, &pair); err != nil {
		return "", "", err
	}
	return pair.Access, pair.Refresh, nil
}

// RotateSecret edits the password in the organization's credentials
// Secret, as a platform team does with kubectl; a token issued before must
// stop working. Tenants whose admin chose a password through the API are
// skipped (their Secret holds only a hash), reported by ok=false.
func (d *Driver) RotateSecret(ctx context.Context, name string) (ok bool, err error) {
	t := d.Model.Get(name)
	if t == nil || t.Chosen || t.Password == "" {
		return false, nil
	}
	token, _, err := d.Login(ctx, name)
	if err != nil {
		return false, err
	}
	pw := rand.Text()
	patch := fmt.Sprintf(`{"stringData":{%q:%q}}`, tenancyv1alpha1.SecretKeyPassword, pw)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: d.CredentialsNamespace, Name: tenancyv1alpha1.CredentialsSecretName(name)}}
	if err := d.K8s.Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return false, fmt.Errorf("rotate %s in its Secret: %w", name, err)
	}
	d.rotated(name, pw, false, token)
	return true, d.awaitPassword(ctx, name, pw)
}

// awaitPassword waits until the admin of name logs in with pw, as a
// platform team checks a rotation before handing the password out: the
// controller applies a Secret edit (or a 202'd API change) a moment later.
func (d *Driver) awaitPassword(ctx context.Context, name, pw string) error {
	t := d.Model.Get(name)
	if t == nil {
		return nil
	}
	var last apiclient.Response
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		r, err := login(ctx, d.APIURL, t.Email, pw)
		last = r
		return err == nil && r.Status == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("the new password of %s does not work: %d %s", name, last.Status, last.Body)
	}
	return nil
}

// RotateAPI changes the password through the REST API (PATCH with the
// current password); every earlier token must stop working.
func (d *Driver) RotateAPI(ctx context.Context, name string) error {
	t := d.Model.Get(name)
	if t == nil || t.Password == "" {
		return nil
	}
	token, _, err := d.Login(ctx, name)
	if err != nil {
		return err
	}
	pw := rand.Text()
	r, err := apiclient.Do(ctx, d.APIURL, http.MethodPatch, "/v1/organizations/"+name, token,
		map[string]string{"password": pw, "currentPassword": t.Password})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK && r.Status != http.StatusAccepted {
		return fmt.Errorf("change %s's password through the API: %d %s", name, r.Status, r.Body)
	}
	d.rotated(name, pw, true, token)
	if r.Status == http.StatusAccepted {
		return d.awaitPassword(ctx, name, pw)
	}
	return nil
}

func (d *Driver) rotated(name, pw string, chosen bool, oldToken string) {
	d.Model.Update(name, func(t *Tenant) {
		t.OldPasswords = append(t.OldPasswords, t.Password)
		t.Password = pw
		t.Chosen = t.Chosen || chosen
	})
	d.Model.Revoke(name, oldToken)
}

// Session logs in, reads the organization, refreshes, and logs out: the
// refreshed access token must then be refused.
func (d *Driver) Session(ctx context.Context, name string) error {
	access, refresh, err := d.Login(ctx, name)
	if err != nil {
		return err
	}
	r, err := apiclient.Do(ctx, d.APIURL, http.MethodGet, "/v1/organizations/"+name, access, nil)
	if err != nil || r.Status != http.StatusOK {
		return fmt.Errorf("GET %s: %d %v %s", name, r.Status, err, r.Body)
	}
	r, err = apiclient.Do(ctx, d.APIURL, http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
	if err != nil || r.Status != http.StatusOK {
		return fmt.Errorf("refresh %s: %d %v %s", name, r.Status, err, r.Body)
	}
	var pair struct {
		Access string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &pair); err != nil {
		return err
	}
	r, err = apiclient.Do(ctx, d.APIURL, http.MethodPost, "/v1/auth/logout", pair.Access, nil)
	if err != nil || r.Status != http.StatusNoContent {
		return fmt.Errorf("logout %s: %d %v %s", name, r.Status, err, r.Body)
	}
	d.Model.Revoke(name, pair.Access)
	return nil
}

// login posts an email and password to the REST API's login.
func login(ctx context.Context, base, email, password string) (apiclient.Response, error) {
	return apiclient.Do(ctx, base, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": password})
}
