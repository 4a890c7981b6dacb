package mongostore

import "context"

// WriteAdminUnchecked writes without the prior email check, to provoke the
// unique-index race in tests.
func (s *Store) WriteAdminUnchecked(ctx context.Context, a Admin) error {
	a.Email = NormalizeEmail(a.Email)
	return s.writeAdmin(ctx, a)
}

// ClassifyWriteError exposes classifyWriteError to tests.
func (s *Store) ClassifyWriteError(ctx context.Context, err error, a Admin) error {
	return s.classifyWriteError(ctx, err, a)
}
