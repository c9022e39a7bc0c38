package grants

import "time"

// SetClock makes the endpoint read the time from now, so tests move time
// on instead of sleeping through it. Test builds only.
func (e *Endpoint) SetClock(now func() time.Time) { e.now = now }
