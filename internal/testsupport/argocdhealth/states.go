package argocdhealth

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// States records which health states a suite's live objects of one kind
// reached. With ARGOCD_TESTDATA=update the first object seen in each state
// is written to the kind's testdata folder (health_test.yaml lists the
// expected result of each). Safe for concurrent use.
type States struct {
	Kind string

	mu   sync.Mutex
	seen map[string]bool
}

// Record notes state as seen for u and dumps u (without managedFields)
// the first time when asked to; the error is the dump's.
func (s *States) Record(state string, u *unstructured.Unstructured) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[state] {
		return nil
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[state] = true
	if os.Getenv("ARGOCD_TESTDATA") != "update" {
		return nil
	}
	dump := u.DeepCopy()
	dump.SetManagedFields(nil)
	data, err := yaml.Marshal(dump.Object)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(Dir(s.Kind), "testdata", strings.ToLower(state)+".yaml"), data, 0o600)
}

// Missing returns the states of want never recorded.
func (s *States) Missing(want []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []string
	for _, w := range want {
		if !s.seen[w] {
			missing = append(missing, w)
		}
	}
	return missing
}
