package controller

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// selfWrites lets the Secret watches ignore the events of the controller's
// own Secret writes, so that a new Organization is not reconciled a second
// time (behind newer work) because of the Secret it just created.
//
// A write is announced before it is sent (begin) and settled with the
// version it produced (end). An event of that version is the controller's
// own and is dropped. An event that arrives while a write is in flight (the
// watch may beat the write's answer) is dropped too, but remembered: when
// the write settles with another version, somebody else changed the Secret
// meanwhile, and end tells the reconcile to look again. Any other change (a
// different version, a deletion) enqueues as usual.
type selfWrites struct {
	mu       sync.Mutex
	versions map[types.NamespacedName]string   // the version our last write produced
	inFlight map[types.NamespacedName]int      // writes sent, not yet answered
	early    map[types.NamespacedName][]string // versions seen while a write was in flight
}

func newSelfWrites() *selfWrites {
	return &selfWrites{versions: map[types.NamespacedName]string{}, inFlight: map[types.NamespacedName]int{},
		early: map[types.NamespacedName][]string{}}
}

// begin announces a write of obj.
func (s *selfWrites) begin(obj client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[client.ObjectKeyFromObject(obj)]++
}

// end settles the write announced by begin: obj is as the write returned it
// (its resourceVersion is ours) unless the write failed. It reports whether
// an event of another version arrived while the write was in flight.
func (s *selfWrites) end(obj client.Object, writeErr error) (othersWrote bool) {
	key := client.ObjectKeyFromObject(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[key]--; s.inFlight[key] <= 0 {
		delete(s.inFlight, key)
	}
	if writeErr == nil {
		s.versions[key] = obj.GetResourceVersion()
	}
	for _, v := range s.early[key] {
		if writeErr != nil || v != s.versions[key] {
			othersWrote = true
		}
	}
	delete(s.early, key)
	return othersWrote
}

// ours reports whether an event's object is (or may be) our own write.
func (s *selfWrites) ours(obj client.Object) bool {
	key := client.ObjectKeyFromObject(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.versions[key]; ok && v == obj.GetResourceVersion() {
		return true
	}
	if s.inFlight[key] > 0 {
		s.early[key] = append(s.early[key], obj.GetResourceVersion())
		return true
	}
	return false
}

// predicate drops create and update events of our own writes.
func (s *selfWrites) predicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return !s.ours(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool { return !s.ours(e.ObjectNew) },
	}
}
