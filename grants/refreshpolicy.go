package grants

import (
	"slices"
	"strings"

	"authserver/clients"
)

// ScopeOfflineAccess is the OpenID Connect scope that asks for a refresh
// token (Core §11).
const ScopeOfflineAccess = "offline_access"

// issuesRefresh decides whether a grant of scope starts a refresh family:
// the client must be allowed refresh_token, and, when the server requires
// it, the user must have granted offline_access. By default it need not: MCP
// clients never ask for offline_access, yet are registered for refresh.
func (e *Endpoint) issuesRefresh(c *clients.Client, scope string) bool {
	if !c.AllowsGrant(clients.GrantRefreshToken) {
		return false
	}
	return !e.cfg.OfflineAccessForRefresh || slices.Contains(strings.Fields(scope), ScopeOfflineAccess)
}
