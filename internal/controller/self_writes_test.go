package controller

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func secretAt(version string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "creds", Name: "acme-admin", ResourceVersion: version}}
}

func TestUnitSelfWrites(t *testing.T) {
	t.Run("the event of our write is dropped, before or after the write returns", func(t *testing.T) {
		s := newSelfWrites()
		s.begin(secretAt(""))
		if !s.ours(secretAt("7")) { // the watch beat the answer
			t.Fatal("an event during our write was enqueued")
		}
		if s.end(secretAt("7"), nil) {
			t.Fatal("our own early event was taken for somebody else's")
		}
		if !s.ours(secretAt("7")) {
			t.Fatal("the event of our write, arriving late, was enqueued")
		}
	})
	t.Run("somebody else's write during ours makes the reconcile look again", func(t *testing.T) {
		s := newSelfWrites()
		s.begin(secretAt(""))
		s.ours(secretAt("8")) // another writer's version arrives meanwhile
		if !s.end(secretAt("9"), nil) {
			t.Fatal("another writer's change during our write went unnoticed")
		}
	})
	t.Run("a failed write leaves nothing that hides later events", func(t *testing.T) {
		s := newSelfWrites()
		s.begin(secretAt(""))
		s.ours(secretAt("3"))
		if !s.end(secretAt(""), errors.New("conflict")) {
			t.Fatal("an event during a failed write was not handed back")
		}
		if s.ours(secretAt("3")) {
			t.Fatal("an event was dropped although no write of ours produced it")
		}
	})
	t.Run("other versions and other Secrets pass", func(t *testing.T) {
		s := newSelfWrites()
		s.begin(secretAt(""))
		s.end(secretAt("5"), nil)
		if s.ours(secretAt("6")) {
			t.Fatal("a later change by somebody else was dropped")
		}
		other := secretAt("5")
		other.Name = "globex-admin"
		if s.ours(other) {
			t.Fatal("another Secret's event was dropped")
		}
	})
}
