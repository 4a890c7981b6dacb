package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

func TestFinishRetriesConflictsQuietly(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "acme-admin", errors.New("modified"))
	for _, err := range []error{conflict, fmt.Errorf("update credentials Secret: %w", conflict)} {
		r := &OrganizationReconciler{} // no client: finish must not write anything
		org := newOrg(2, 1)
		res, gotErr := r.finish(context.Background(), &tenant{org: org, persisted: org.Status.DeepCopy()}, outcome{err: err})
		if gotErr != nil {
			t.Fatalf("finish returned %v; a conflict must be retried without an error", gotErr)
		}
		if res.RequeueAfter <= 0 {
			t.Fatalf("result %+v; want a requeue", res)
		}
		if len(org.Status.Conditions) != 0 || org.Status.ObservedGeneration != 1 {
			t.Fatalf("status changed on a conflict: %+v", org.Status)
		}
	}
}

func TestClassifyMongo(t *testing.T) {
	if _, ok := asWaiting(classifyMongo(errors.New("boom"))); ok {
		t.Fatal("a plain error was classified as MongoDB being unavailable")
	}
	if classifyMongo(nil) != nil {
		t.Fatal("nil is not an error")
	}
	we, ok := asWaiting(classifyMongo(fmt.Errorf("ping: %w", errUnavailableForTest)))
	if !ok || we.Reason != tenancyv1alpha1.ReasonMongoUnavailable {
		t.Fatalf("got %v; want a waitingError with MongoUnavailable", we)
	}
}
