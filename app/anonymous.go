package app

import (
	"context"
	"time"
)

// sweepEvery is how often a node deletes unused anonymous clients. Lookup
// already refuses them, so the sweep only reclaims their records.
const sweepEvery = time.Hour

// sweepAnonymous runs registration's janitor every sweepEvery until ctx
// ends. Every node runs it; deleting a client twice is harmless.
func (a *App) sweepAnonymous(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.Registration.DeleteUnused(ctx)
			if err != nil && ctx.Err() == nil {
				a.Log.Warn("deleting unused anonymous clients failed", "err", err)
			}
			if n > 0 {
				a.Log.Info("deleted unused anonymous clients", "count", n)
			}
		}
	}
}
