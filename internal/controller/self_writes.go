package controller

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// selfWrites remembers the resourceVersion of every Secret the controller
// just wrote, so that the watch event its own write causes does not enqueue
// the Organization a second time (behind newer work). Any other change to
// the Secret (someone else's write, a deletion) has another
// resourceVersion, or is a deletion, and still enqueues.
type selfWrites struct {
	mu       sync.Mutex
	versions map[types.NamespacedName]string
}

func newSelfWrites() *selfWrites {
	return &selfWrites{versions: map[types.NamespacedName]string{}}
}

// record notes that obj, as returned by our write, is our own doing.
func (s *selfWrites) record(obj client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[client.ObjectKeyFromObject(obj)] = obj.GetResourceVersion()
}

// ours reports whether obj is the version our last write produced. The
// entry stays (both Secret watches see the same event); the next write of
// the Secret replaces it, so there is at most one entry per Secret.
func (s *selfWrites) ours(obj client.Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.versions[client.ObjectKeyFromObject(obj)]
	return ok && v == obj.GetResourceVersion()
}

// predicate drops create and update events of our own writes.
func (s *selfWrites) predicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return !s.ours(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool { return !s.ours(e.ObjectNew) },
	}
}
