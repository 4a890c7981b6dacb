package controller

import (
	"errors"
	"testing"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
	"github.com/org-operator/org-operator/internal/password"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func secretAt(version string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "creds", Name: "acme-admin", ResourceVersion: version}}
}

func TestSelfWrites(t *testing.T) {
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

func TestStillGenerated(t *testing.T) {
	pw := "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
	owned := func(stored string, annotated bool) *corev1.Secret {
		s := secretAt("1")
		s.Data = map[string][]byte{tenancyv1alpha1.SecretKeyPassword: []byte(stored)}
		if annotated {
			s.Annotations = map[string]string{tenancyv1alpha1.AnnotationGeneratedPassword: password.Digest(pw)}
		}
		return s
	}
	if !stillGenerated(owned(pw, true)) {
		t.Fatal("the generated password was not recognised")
	}
	edited := owned("a password a person typed", true)
	if stillGenerated(edited) {
		t.Fatal("an edited password was taken for the generated one (it would get the fast hash)")
	}
	if _, ok := edited.Annotations[tenancyv1alpha1.AnnotationGeneratedPassword]; ok {
		t.Fatal("the stale digest was kept")
	}
	if stillGenerated(owned(pw, false)) {
		t.Fatal("a password without the operator's digest was taken for a generated one")
	}
}
