// Package faultstore wraps the controller's TenantStore to inject faults at
// chosen points of a document move, as tests need them: block there until
// the manager stops (an interruption at exactly that point) or fail the call.
// Only tests construct it; the operator's own types carry no test seam.
package faultstore

import (
	"context"
	"sync"
	"time"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/controller"
	"github.com/org-operator/org-operator/internal/mongostore"
)

// Point is where a fault can be injected.
type Point string

const (
	// AfterBatchCopied: a batch was copied and the move's progress persisted.
	AfterBatchCopied Point = "AfterBatchCopied"
	// BeforeRemoveTenant: the move switched to the target and is about to
	// remove the source.
	BeforeRemoveTenant Point = "BeforeRemoveTenant"
	// AfterRemoveTenant: the source was removed, the move not yet cleared.
	AfterRemoveTenant Point = "AfterRemoveTenant"
)

// Fault decides what happens at a point; a non-nil error is returned to the
// controller as the store call's result. locations are the call's.
type Fault func(ctx context.Context, p Point, locations ...mongostore.Location) error

// Store is a TenantStore whose move operations pass through Fault, and
// whose admin record reads and writes take Latency longer (a slow server).
type Store struct {
	controller.TenantStore
	Fault   Fault
	Latency time.Duration
}

// Wrap returns a function for harness.Options.WrapStore.
func Wrap(f Fault) func(controller.TenantStore) controller.TenantStore {
	return func(s controller.TenantStore) controller.TenantStore { return &Store{TenantStore: s, Fault: f} }
}

// Slow returns a function for harness.Options.WrapStore whose admin record
// reads and writes each take d longer.
func Slow(d time.Duration) func(controller.TenantStore) controller.TenantStore {
	return func(s controller.TenantStore) controller.TenantStore { return &Store{TenantStore: s, Latency: d} }
}

func (s *Store) fault(ctx context.Context, p Point, locations ...mongostore.Location) error {
	if s.Fault == nil {
		return nil
	}
	return s.Fault(ctx, p, locations...)
}

func (s *Store) delay(ctx context.Context) error {
	if s.Latency <= 0 {
		return nil
	}
	select {
	case <-time.After(s.Latency):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GetAdmin reads the admin record after Latency.
func (s *Store) GetAdmin(ctx context.Context, organization string) (*mongostore.Admin, error) {
	if err := s.delay(ctx); err != nil {
		return nil, err
	}
	return s.TenantStore.GetAdmin(ctx, organization)
}

// CreateAdmin writes the admin record after Latency.
func (s *Store) CreateAdmin(ctx context.Context, a mongostore.Admin) error {
	if err := s.delay(ctx); err != nil {
		return err
	}
	return s.TenantStore.CreateAdmin(ctx, a)
}

// UpdateAdmin writes the admin record after Latency.
func (s *Store) UpdateAdmin(ctx context.Context, a mongostore.Admin) error {
	if err := s.delay(ctx); err != nil {
		return err
	}
	return s.TenantStore.UpdateAdmin(ctx, a)
}

// CopyTenant copies as the real store does and calls Fault after each
// batch's progress was persisted.
func (s *Store) CopyTenant(ctx context.Context, src, dst mongostore.Location, batch int, afterBatch func(read int64) error) error {
	return s.TenantStore.CopyTenant(ctx, src, dst, batch, func(read int64) error {
		if afterBatch != nil {
			if err := afterBatch(read); err != nil {
				return err
			}
		}
		return s.fault(ctx, AfterBatchCopied, src, dst)
	})
}

// InsertTenantDocuments inserts a batch of a copy between deployments as
// the real store does and calls Fault after it.
func (s *Store) InsertTenantDocuments(ctx context.Context, dst mongostore.Location, docs []any) error {
	if err := s.TenantStore.InsertTenantDocuments(ctx, dst, docs); err != nil {
		return err
	}
	return s.fault(ctx, AfterBatchCopied, dst, dst)
}

// RemoveTenant calls Fault before and after removing the location.
func (s *Store) RemoveTenant(ctx context.Context, l mongostore.Location) (int64, error) {
	if err := s.fault(ctx, BeforeRemoveTenant, l); err != nil {
		return 0, err
	}
	n, err := s.TenantStore.RemoveTenant(ctx, l)
	if err != nil {
		return n, err
	}
	return n, s.fault(ctx, AfterRemoveTenant, l)
}

// Involves reports whether one of the locations belongs to organization: its
// dedicated collection or its slice of a shared collection.
func Involves(organization string, locations ...mongostore.Location) bool {
	for _, l := range locations {
		if l.Organization == organization || !l.Shared() && l.Collection == tenancyv1alpha1.DedicatedCollection(organization) {
			return true
		}
	}
	return false
}

// CrashAt returns a Fault that, the first time a move of organization
// reaches point, signals reached and then blocks until the manager stops, as
// if the process died right there; every other call passes.
func CrashAt(organization string, point Point) (fault Fault, reached <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(ctx context.Context, p Point, locations ...mongostore.Location) error {
		if p != point || !Involves(organization, locations...) {
			return nil
		}
		crashed := false
		once.Do(func() { close(ch); crashed = true })
		if !crashed {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}, ch
}
