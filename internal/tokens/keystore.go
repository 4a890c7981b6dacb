package tokens

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// SecretKeyStore keeps the signing key set in one Secret shared by every
// replica. The first replica to start creates it; rotation is done by
// whichever replica notices first, with optimistic locking so concurrent
// replicas never overwrite each other's keys.
type SecretKeyStore struct {
	// Client writes the Secret and reads it whole (the manager's client
	// reads Secrets from the apiserver: the cache holds their metadata only).
	Client client.Client
	// Metadata, when set, reads the Secret's metadata from the cache: Keys
	// then reads the Secret whole only when its resourceVersion changed.
	Metadata  client.Reader
	Namespace string
	Name      string
	// Rotation is how long a key signs before a new one replaces it.
	Rotation time.Duration
	// TokenLifetime is how long a retired key keeps verifying.
	TokenLifetime time.Duration
	// Live reads the Secret from the apiserver, bypassing Client's cache,
	// in Reread; nil uses Client.
	Live client.Reader

	mu         sync.Mutex
	resVersion string
	keys       *KeySet
	fresh      *KeySet   // the last Reread's answer
	freshAt    time.Time // when it was read
}

// MinReread spaces Reread's uncached reads, so tokens naming made-up key
// ids cannot turn into a stream of apiserver requests.
const MinReread = time.Second

// Keys returns the current key set, read and parsed once per Secret version.
func (s *SecretKeyStore) Keys(ctx context.Context) (*KeySet, error) {
	if ks := s.unchanged(ctx); ks != nil {
		return ks, nil
	}
	secret := &corev1.Secret{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if apierrors.IsNotFound(err) && s.keys != nil {
			return s.keys, nil // written by Ensure, not in the cache yet
		}
		return nil, fmt.Errorf("read signing keys %s/%s: %w", s.Namespace, s.Name, err)
	}
	if secret.ResourceVersion == s.resVersion && s.keys != nil {
		return s.keys, nil
	}
	ks, err := DecodeKeySet(secret.Data)
	if err != nil {
		return nil, err
	}
	if ks.Len() == 0 {
		return nil, ErrNoKeys
	}
	s.keys, s.resVersion = ks, secret.ResourceVersion
	return ks, nil
}

// unchanged returns the parsed key set when the cached metadata shows the
// Secret at the version it was parsed from; nil otherwise (no Metadata
// reader, nothing parsed yet, a new version, or the Secret not in the cache).
func (s *SecretKeyStore) unchanged(ctx context.Context) *KeySet {
	if s.Metadata == nil {
		return nil
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := s.Metadata.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, m); err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil && m.ResourceVersion == s.resVersion {
		return s.keys
	}
	return nil
}

// Reread returns the key set as the apiserver holds it now, bypassing the
// cache: a token can name a key another replica added (a rotation) before
// this replica's cache has it. At most one read per MinReread; in between it
// returns the previous answer. On a read error it returns the error.
func (s *SecretKeyStore) Reread(ctx context.Context, now time.Time) (*KeySet, error) {
	s.mu.Lock()
	if s.fresh != nil && now.Sub(s.freshAt) < MinReread {
		ks := s.fresh
		s.mu.Unlock()
		return ks, nil
	}
	s.freshAt = now
	s.mu.Unlock()
	reader := s.Live
	if reader == nil {
		reader = s.Client
	}
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, secret); err != nil {
		return nil, fmt.Errorf("reread signing keys %s/%s: %w", s.Namespace, s.Name, err)
	}
	ks, err := DecodeKeySet(secret.Data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.fresh = ks
	s.mu.Unlock()
	return ks, nil
}

// Ensure creates the Secret when absent and rotates its keys when due.
// Losing a race to another replica is not an error.
func (s *SecretKeyStore) Ensure(ctx context.Context, now time.Time) error {
	secret := &corev1.Secret{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, secret)
	if apierrors.IsNotFound(err) {
		return s.create(ctx, now)
	}
	if err != nil {
		return err
	}
	current, err := DecodeKeySet(secret.Data)
	if err != nil {
		return err
	}
	next, changed, err := current.Rotate(now, s.Rotation, s.TokenLifetime)
	if err != nil || !changed {
		return err
	}
	updated := secret.DeepCopy()
	updated.Data = next.Encode()
	err = s.Client.Patch(ctx, updated, client.MergeFromWithOptions(secret, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return nil
	}
	if err == nil {
		s.remember(updated, next)
	}
	return err
}

func (s *SecretKeyStore) create(ctx context.Context, now time.Time) error {
	ks, _, err := (&KeySet{}).Rotate(now, s.Rotation, s.TokenLifetime)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name,
			Labels: map[string]string{tenancyv1alpha1.LabelManagedBy: tenancyv1alpha1.ManagedBy}},
		Type: corev1.SecretTypeOpaque,
		Data: ks.Encode(),
	}
	err = s.Client.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err == nil {
		s.remember(secret, ks)
	}
	return err
}

func (s *SecretKeyStore) remember(secret *corev1.Secret, ks *KeySet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.resVersion = ks, secret.ResourceVersion
}
