package clients

import "time"

// SetClock makes the registry read the time from now, so tests move time
// on instead of sleeping through it. Test builds only.
func (r *Registry) SetClock(now func() time.Time) { r.now = now }
