package grants

import (
	"context"

	"authserver/clients"
)

// noteUse tells the registry the client got a token, which keeps an
// anonymous client from expiring (clients.Registry.NoteTokenIssued). It
// runs after the answer is written and cannot change it; a failure is
// logged, and the next token tries again.
func (e *Endpoint) noteUse(ctx context.Context, c *clients.Client) {
	if !c.Anonymous {
		return // only anonymous clients expire: nothing to record, nothing to allocate
	}
	if err := e.clients.NoteTokenIssued(context.WithoutCancel(ctx), c); err != nil {
		e.audit.WarnContext(ctx, "recording a client's last use failed", "client_id", c.ID, "err", err)
	}
}
