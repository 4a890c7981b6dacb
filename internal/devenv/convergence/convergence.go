// Package convergence tells when an Organization has converged on its
// current spec, for the development environment (make dev waits for its
// samples) and every suite: one meaning of "Ready" everywhere.
package convergence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// Check reports nil when org has converged on its current spec: Ready,
// its observedGeneration that of the spec, and no move in flight. A Ready
// condition of an earlier generation (what `kubectl wait
// --for=condition=Ready` accepts) is not convergence.
func Check(org *tenancyv1alpha1.Organization) error {
	c := meta.FindStatusCondition(org.Status.Conditions, tenancyv1alpha1.ConditionReady)
	switch {
	case c == nil || c.Status != "True":
		msg := "no Ready condition"
		if c != nil {
			msg = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
		}
		return fmt.Errorf("organization %s is not Ready (%s)", org.Name, msg)
	case org.Status.ObservedGeneration != org.Generation:
		return fmt.Errorf("organization %s: observedGeneration %d, generation %d", org.Name, org.Status.ObservedGeneration, org.Generation)
	case org.Status.Migration != nil:
		return fmt.Errorf("organization %s is still moving its documents (%s)", org.Name, org.Status.Migration.Phase)
	}
	return nil
}

// Wait reads the Organization name through r (use a reader
// without a cache) until it converged (Check), and returns it; on
// timeout the error says what was last seen.
func Wait(ctx context.Context, r client.Reader, name string, timeout time.Duration) (*tenancyv1alpha1.Organization, error) {
	var org *tenancyv1alpha1.Organization
	last := errors.New("not read yet")
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		o := &tenancyv1alpha1.Organization{}
		if err := r.Get(ctx, client.ObjectKey{Name: name}, o); err != nil {
			last = err
			return false, nil
		}
		org, last = o, Check(o)
		return last == nil, nil
	})
	if err != nil {
		return org, fmt.Errorf("organization %s did not converge within %s: %w", name, timeout, last)
	}
	return org, nil
}

// Progress counts, among names, the Organizations that exist and those that
// converged, read through r at one moment (to tell, for example, whether a
// crash landed while creations were under way).
func Progress(ctx context.Context, r client.Reader, names []string) (existing, converged int, err error) {
	var list tenancyv1alpha1.OrganizationList
	if err := r.List(ctx, &list); err != nil {
		return 0, 0, err
	}
	wanted := make(map[string]bool, len(names))
	for _, n := range names {
		wanted[n] = true
	}
	for i := range list.Items {
		if o := &list.Items[i]; wanted[o.Name] {
			existing++
			if Check(o) == nil {
				converged++
			}
		}
	}
	return existing, converged, nil
}
