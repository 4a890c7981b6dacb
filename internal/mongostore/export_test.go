package mongostore

import "context"

// UpdateAdminUnchecked updates without classifying the failure, to provoke
// the unique-index race in tests.
func (s *Store) UpdateAdminUnchecked(ctx context.Context, a Admin) error {
	a.Email = NormalizeEmail(a.Email)
	return s.updateAdmin(ctx, a)
}

// ClassifyWriteError exposes classifyWriteError to tests.
func (s *Store) ClassifyWriteError(ctx context.Context, err error, a Admin) error {
	return s.classifyWriteError(ctx, err, a)
}
