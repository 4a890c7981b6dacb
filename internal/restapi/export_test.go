package restapi

import "time"

// SetClock replaces the server's clock: tests move time forward (a session
// older than its maximum age) without waiting for it.
func (s *Server) SetClock(now func() time.Time) { s.now = now }
