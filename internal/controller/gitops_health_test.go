//go:build integration

package controller_test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/testsupport/argocdhealth"
)

// The differential check: on every live Organization the suite waits for
// (waitReady and waitCondition call it, and the tests below drive the
// states nothing else reaches), kstatus (what Flux and kubectl-based tools
// compute) and the Argo CD health check (health.lua, run as Argo CD runs it)
// must agree:
//
//	kstatus Current     <-> Argo CD Healthy
//	kstatus InProgress  <-> Argo CD Progressing
//	kstatus Terminating <-> Argo CD Progressing (being deleted)
//	kstatus Failed      <-> Argo CD Degraded
//	paused: Argo CD Suspended; kstatus has no such status and shows the
//	        last one (Current, or InProgress for a spec change it waits for)
//
// Self-healing states (MongoDB unreachable, a move under way) must be
// InProgress/Progressing: Argo CD fails a sync on Degraded.
//
// With ARGOCD_TESTDATA=update the first object seen in each state is
// written to the health check's testdata folder (health_test.yaml lists the
// expected result for each).

// healthStates the full suite must reach; AfterSuite checks it did.
var healthStates = []string{
	"new", "ready", "changed", "mongo-unavailable", "migrating", "deletion-blocked", "paused",
	"stalled-" + tenancyv1alpha1.ReasonPasswordSecretNotFound,
	"stalled-" + tenancyv1alpha1.ReasonAdminEmailInUse,
	"stalled-" + tenancyv1alpha1.ReasonCredentialsSecretConflict,
	"stalled-" + tenancyv1alpha1.ReasonMigrationConflict,
	"stalled-" + tenancyv1alpha1.ReasonCollectionBudgetExceeded,
	"stalled-" + tenancyv1alpha1.ReasonRenameConflict,
	"stalled-" + tenancyv1alpha1.ReasonRenameTargetTaken,
	"stalled-" + tenancyv1alpha1.ReasonRetainedDataExists,
	"stalled-" + tenancyv1alpha1.ReasonOwnedByAnotherCluster,
	"stalled-" + tenancyv1alpha1.ReasonPasswordSecretNotAllowed,
	"stalled-" + tenancyv1alpha1.ReasonInvalidPasswordHash,
}

// reachedStates records the states the suite's Organizations reached.
var reachedStates = &argocdhealth.States{Kind: "Organization"}

// healthState names the state an Organization is in, from the object alone.
func healthState(u *unstructured.Unstructured) string {
	org := &tenancyv1alpha1.Organization{}
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, org)).To(Succeed())
	ready := condition(org, tenancyv1alpha1.ConditionReady)
	stalled := condition(org, tenancyv1alpha1.ConditionStalled)
	switch {
	case org.DeletionTimestamp != nil && ready != nil && strings.HasPrefix(ready.Message, "Deletion blocked"):
		return "deletion-blocked"
	case org.DeletionTimestamp != nil:
		return "deleting"
	case org.Paused():
		return "paused"
	case stalled != nil && stalled.Status == metav1.ConditionTrue:
		return "stalled-" + stalled.Reason
	case org.Status.Migration != nil:
		return "migrating"
	case ready != nil && ready.Reason == tenancyv1alpha1.ReasonMongoUnavailable:
		return "mongo-unavailable"
	case org.Status.ObservedGeneration == 0:
		return "new"
	case org.Status.ObservedGeneration < org.Generation:
		return "changed"
	case ready != nil && ready.Status == metav1.ConditionTrue:
		return "ready"
	}
	return "reconciling"
}

// asServed is obj as the apiserver answered a write (before the
// controller could act on it).
func asServed(obj client.Object) *unstructured.Unstructured {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	return &unstructured.Unstructured{Object: content}
}

// checkToolsAgree is expectToolsAgree on the Organization as served now,
// if it still exists (the helpers that wait for a state call it).
func checkToolsAgree(name string) {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(tenancyv1alpha1.GroupVersion.WithKind("Organization"))
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, u); apierrors.IsNotFound(err) {
		return
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	expectToolsAgree(u)
}

// expectToolsAgree checks that kstatus and the Argo CD health check agree on
// u, records its state, and returns the Argo CD health.
func expectToolsAgree(u *unstructured.Unstructured) argocdhealth.Status {
	GinkgoHelper()
	state := healthState(u)
	k, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	argo, err := argocdhealth.Evaluate("Organization", u.Object)
	Expect(err).NotTo(HaveOccurred(), "health.lua failed on %s", u.GetName())
	Expect(argo.Message).NotTo(BeEmpty())
	describe := fmt.Sprintf("%s in state %s: kstatus %s (%s), Argo CD %s (%s)", u.GetName(), state, k.Status, k.Message, argo.Status, argo.Message)
	switch state {
	case "paused":
		Expect(argo.Status).To(Equal("Suspended"), describe)
		Expect(k.Status).To(BeElementOf(status.CurrentStatus, status.InProgressStatus), describe)
	case "mongo-unavailable", "migrating":
		Expect(argo.Status).To(Equal("Progressing"), "a self-healing state must never be Degraded: "+describe)
		// Flux (kstatus) must keep waiting, not fail the Kustomization.
		Expect(k.Status).To(Equal(status.InProgressStatus), describe)
	}
	if strings.HasPrefix(state, "stalled-") {
		// Flux's wait/healthChecks fail fast on Failed.
		Expect(k.Status).To(Equal(status.FailedStatus), describe)
	}
	want := map[status.Status]string{status.CurrentStatus: "Healthy", status.InProgressStatus: "Progressing",
		status.TerminatingStatus: "Progressing", status.FailedStatus: "Degraded"}
	if state != "paused" {
		Expect(want).To(HaveKeyWithValue(k.Status, argo.Status), describe)
	}
	Expect(reachedStates.Record(state, u)).To(Succeed())
	return argo
}

// expectAllHealthStatesSeen fails when the full suite ran and some state of
// healthStates was never checked (a test that reached it is gone).
func expectAllHealthStatesSeen() {
	suite, _ := GinkgoConfiguration()
	if len(suite.FocusStrings) > 0 || len(suite.FocusFiles) > 0 || len(suite.SkipStrings) > 0 || suite.LabelFilter != "" {
		return
	}
	Expect(reachedStates.Missing(healthStates)).To(BeEmpty(), "states the differential Argo CD / kstatus check never saw")
}

func annotate(name, key, value string) {
	Eventually(func() error {
		org := getOrg(name)
		if value == "" {
			delete(org.Annotations, key)
		} else {
			if org.Annotations == nil {
				org.Annotations = map[string]string{}
			}
			org.Annotations[key] = value
		}
		return k8s.Update(ctx, org)
	}, timeout, interval).Should(Succeed())
}

var _ = Describe("17. Argo CD health and kstatus", func() {
	It("agree on a new Organization and on a new generation: in progress until reconciled", func() {
		name := uniqueName("health-new")
		org := newOrg(name)
		createOrg(org) // the answer to the create: the object before the controller saw it
		Expect(healthState(asServed(org))).To(Equal("new"))
		Expect(expectToolsAgree(asServed(org)).Status).To(Equal("Progressing"))
		org = waitReady(name)
		org.Spec.DisplayName = "renamed for display"
		Expect(k8s.Update(ctx, org)).To(Succeed())
		Expect(healthState(asServed(org))).To(Equal("changed"))
		Expect(expectToolsAgree(asServed(org)).Status).To(Equal("Progressing"))
		waitReady(name)
	})

	It("agree while MongoDB is unreachable: progressing, never degraded", func() {
		name := uniqueName("health-down")
		createOrg(newOrg(name))
		waitReady(name)
		Expect(mongoSrv.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				restartMongo()
			}
		})
		waitCondition(name, tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable)
		h := expectToolsAgree(served(name))
		Expect(h.Status).To(Equal("Progressing"))
		Expect(h.Message).To(ContainSubstring("MongoDB"))
		restartMongo()
		restarted = true
		waitReady(name)
	})

	It("agree when the ledger says another cluster owns the location: stalled", func() {
		name := uniqueName("health-foreign")
		Expect(writer.LedgerEntry(ctx, name, "uid-elsewhere", "another-cluster", "active")).To(Succeed())
		DeferCleanup(func() {
			Expect(writer.DeleteMany(ctx, "tenants", bson.D{{Key: "_id", Value: tenancyv1alpha1.DedicatedCollection(name)}})).To(Equal(int64(1)))
		})
		createOrg(newOrg(name))
		waitCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonOwnedByAnotherCluster)
		Expect(expectToolsAgree(served(name)).Status).To(Equal("Degraded"))
	})

	It("agree on a password hash outside the accepted bounds: stalled", func() {
		name := uniqueName("health-hash")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credNS, Name: name + "-platform",
			Labels: map[string]string{tenancyv1alpha1.LabelOrganization: name}},
			StringData: map[string]string{tenancyv1alpha1.SecretKeyPasswordHash: "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA"}}
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, secret))).To(Succeed()) })
		org := newOrg(name)
		org.Spec.Admin.PasswordSecretRef = &tenancyv1alpha1.SecretKeyRef{Name: secret.Name}
		createOrg(org)
		waitCondition(name, tenancyv1alpha1.ConditionStalled, metav1.ConditionTrue, tenancyv1alpha1.ReasonInvalidPasswordHash)
		Expect(expectToolsAgree(served(name)).Status).To(Equal("Degraded"))
	})
})

var _ = Describe("18. Pause", func() {
	It("writes nothing to MongoDB or Secrets while paused, says so, and catches up when resumed", func() {
		name := uniqueName("paused")
		createOrg(newOrg(name))
		waitReady(name)
		before := admin(name)

		annotate(name, tenancyv1alpha1.AnnotationReconcile, tenancyv1alpha1.ReconcileDisabled)
		org := waitCondition(name, tenancyv1alpha1.ConditionPaused, metav1.ConditionTrue, tenancyv1alpha1.ReasonReconcileDisabled)
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue), "Ready keeps describing the tenant")
		Expect(expectToolsAgree(served(name)).Status).To(Equal("Suspended"))

		// Drift and a spec change while paused: nothing is repaired or applied.
		Expect(writer.Drop(ctx, "org_"+name)).To(Succeed())
		Expect(k8s.Delete(ctx, ownedSecret(name))).To(Succeed())
		org = getOrg(name)
		org.Spec.Admin.Email = "new-admin@" + name + ".example"
		Expect(k8s.Update(ctx, org)).To(Succeed())
		generation := org.Generation
		Eventually(func(g Gomega) {
			c := condition(getOrg(name), tenancyv1alpha1.ConditionPaused)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.ObservedGeneration).To(Equal(generation), "the controller saw the change")
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse(), "the collection was recreated while paused")
			g.Expect(admin(name)).To(Equal(before), "the admin record was written while paused")
			err := k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.CredentialsSecretName(name)}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Secret was recreated while paused")
		}, 3*resyncPeriod, 200*time.Millisecond).Should(Succeed())
		org = getOrg(name)
		Expect(org.Status.ObservedGeneration).To(BeNumerically("<", org.Generation))
		Expect(kstatus(org)).To(Equal(status.InProgressStatus), "Flux waits for the spec change")
		Expect(expectToolsAgree(served(name)).Status).To(Equal("Suspended"))

		annotate(name, tenancyv1alpha1.AnnotationReconcile, "")
		org = waitReady(name)
		Expect(condition(org, tenancyv1alpha1.ConditionPaused)).To(BeNil())
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeTrue())
		Expect(admin(name).Email).To(Equal("new-admin@" + name + ".example"))
		ownedSecret(name)
	})

	It("still honours the finalizer: deleting a paused Organization cleans up as its deletionPolicy says", func() {
		name := uniqueName("paused-del")
		org := newOrg(name)
		org.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
		createOrg(org)
		waitReady(name)
		annotate(name, tenancyv1alpha1.AnnotationReconcile, tenancyv1alpha1.ReconcileDisabled)
		waitCondition(name, tenancyv1alpha1.ConditionPaused, metav1.ConditionTrue, tenancyv1alpha1.ReasonReconcileDisabled)
		deleteOrgAndWait(name)
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse())
		Expect(admin(name)).To(BeNil())
	})
})

// The kubectl view: the Ready message as STATUS, reason and move at -o wide.
var _ = Describe("19. kubectl columns", func() {
	It("show the Ready message, and the reason and the move with -o wide", func() {
		name := uniqueName("columns")
		createOrg(newOrg(name))
		waitReady(name)
		table := printedTable(name)
		Expect(table.columns).To(ContainElements("Ready", "Status", "Reason", "Migrating"))
		Expect(table.cell("Status")).To(ContainSubstring("org_" + name))
		Expect(table.cell("Reason")).To(Equal(tenancyv1alpha1.ReasonSucceeded))
		Expect(table.priority("Reason")).To(Equal(int64(1)))
		Expect(table.priority("Migrating")).To(Equal(int64(1)))
		Expect(table.priority("Status")).To(BeZero())
	})
})

// printed is an Organization as the apiserver prints it for kubectl get.
type printed struct {
	columns    []string
	priorities []int64
	cells      []any
}

func (p printed) cell(column string) any { return p.cells[slices.Index(p.columns, column)] }

func (p printed) priority(column string) int64 { return p.priorities[slices.Index(p.columns, column)] }

// printedTable asks the apiserver for the table kubectl get shows.
func printedTable(name string) printed {
	GinkgoHelper()
	var table metav1.Table
	gv := tenancyv1alpha1.GroupVersion
	raw, err := kubernetes.NewForConfigOrDie(testEnv.Config).Discovery().RESTClient().Get().
		AbsPath("/apis", gv.Group, gv.Version, "organizations", name).SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(yaml.Unmarshal(raw, &table)).To(Succeed())
	Expect(table.Rows).To(HaveLen(1))
	var p printed
	for _, c := range table.ColumnDefinitions {
		p.columns, p.priorities = append(p.columns, c.Name), append(p.priorities, int64(c.Priority))
	}
	p.cells = table.Rows[0].Cells
	return p
}
