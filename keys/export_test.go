package keys

import "time"

// SetClock makes the manager read the time from now, so tests move time
// instead of sleeping.
func (m *Manager) SetClock(now func() time.Time) { m.now = now }
