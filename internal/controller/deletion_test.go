//go:build integration

package controller_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.mongodb.org/mongo-driver/v2/bson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
)

func insertDocs(collection string, n int) {
	for i := range n {
		Expect(writer.InsertMany(ctx, collection, []any{bson.D{{Key: "n", Value: i}, {Key: "note", Value: fmt.Sprintf("doc %d", i)}}})).To(Succeed())
	}
}

func secretGone(name string) bool {
	err := k8s.Get(ctx, client.ObjectKey{Namespace: credNS, Name: tenancyv1alpha1.CredentialsSecretName(name)}, &corev1.Secret{})
	return apierrors.IsNotFound(err)
}

var _ = Describe("6. Deletion", func() {
	It("with Retain removes the admin record and keeps the collection and every document", func() {
		name := uniqueName("retain")
		createOrg(newOrg(name))
		waitReady(name)
		insertDocs("org_"+name, 5)

		deleteOrgAndWait(name)
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeTrue())
		Expect(reader.Count(ctx, "org_"+name, nil)).To(Equal(int64(5)))
		Expect(admin(name)).To(BeNil())
		Expect(secretGone(name)).To(BeTrue(), "the owned Secret goes with its owner")
	})

	It("with Delete drops the collection", func() {
		name := uniqueName("delete")
		org := newOrg(name)
		org.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
		createOrg(org)
		waitReady(name)
		insertDocs("org_"+name, 3)

		deleteOrgAndWait(name)
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse())
		Expect(admin(name)).To(BeNil())
		Expect(secretGone(name)).To(BeTrue())
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventCollectionDropped))
	})

	It("keeps the object, says why, and loses nothing while MongoDB is unreachable", func() {
		name := uniqueName("blocked")
		org := newOrg(name)
		org.Spec.DeletionPolicy = tenancyv1alpha1.DeletionPolicyDelete
		createOrg(org)
		waitReady(name)
		insertDocs("org_"+name, 2)

		Expect(mongoSrv.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				restartMongo()
			}
		})
		Expect(k8s.Delete(ctx, getOrg(name))).To(Succeed())
		org = waitCondition(name, tenancyv1alpha1.ConditionReady, metav1.ConditionFalse, tenancyv1alpha1.ReasonMongoUnavailable)
		Expect(condition(org, tenancyv1alpha1.ConditionReady).Message).To(HavePrefix("Deletion blocked"))
		Expect(org.DeletionTimestamp).NotTo(BeNil())
		Expect(org.Finalizers).To(ContainElement(tenancyv1alpha1.Finalizer))
		Eventually(func() []string { return eventReasons(name) }, timeout, interval).Should(ContainElement(controller.EventDeletionBlocked))
		Consistently(func() error { return k8s.Get(ctx, client.ObjectKey{Name: name}, org) }, "2s", interval).Should(Succeed())

		restartMongo()
		restarted = true
		deleteOrgAndWait(name)
		Expect(reader.CollectionExists(ctx, "org_"+name)).To(BeFalse(), "deletionPolicy Delete applies once MongoDB is back")
	})
})
