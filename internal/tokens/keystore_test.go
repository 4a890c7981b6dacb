package tokens

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func keySecret(ks *KeySet) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "keys"}, Data: ks.Encode()}
}

// A replica whose cache still holds the old key set accepts a token signed
// with the key another replica just rotated in, by reading the Secret
// itself; such reads are spaced by MinReread.
func TestRereadFindsAKeyTheCacheLacks(t *testing.T) {
	ctx := context.Background()
	old, _, _ := (&KeySet{}).Rotate(t0, time.Hour, 15*time.Minute)
	rotated, _, _ := old.Rotate(t0.Add(time.Hour), time.Hour, 15*time.Minute)
	reads := 0
	live := fake.NewClientBuilder().WithObjects(keySecret(rotated)).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads++
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	store := &SecretKeyStore{Client: fake.NewClientBuilder().WithObjects(keySecret(old)).Build(), Live: live,
		Namespace: "ns", Name: "keys", Rotation: time.Hour, TokenLifetime: 15 * time.Minute}
	iss := &Issuer{Issuer: "org-operator", Audience: "api", TTL: 15 * time.Minute, Now: func() time.Time { return t0.Add(time.Hour) }}
	tok, _, err := iss.Issue(rotated, "admin-1", "acme", "0123456789abcdef0123456789abcdef", 1)
	if err != nil {
		t.Fatal(err)
	}

	cached, err := store.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(cached, tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("with the cached keys: %v, want ErrUnknownKey", err)
	}
	fresh, err := store.Reread(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(fresh, tok); err != nil {
		t.Fatalf("after Reread: %v", err)
	}
	if _, err := store.Reread(ctx, t0.Add(MinReread/2)); err != nil || reads != 1 {
		t.Fatalf("a second Reread within MinReread read again (%d reads, %v)", reads, err)
	}
	if _, err := store.Reread(ctx, t0.Add(2*MinReread)); err != nil || reads != 2 {
		t.Fatalf("a Reread after MinReread did not read (%d reads, %v)", reads, err)
	}
}
