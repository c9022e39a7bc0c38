package app

import (
	"authserver/cimd"
	"authserver/fetcher"
)

// useClientIDMetadata lets a client_id be the URL of its metadata document
// (client_id_metadata): the registry resolves such an ID through its own
// cache over the node's fetcher, so fetch.allow_hosts and deny_hosts decide
// which hosts may serve clients.
func (a *App) useClientIDMetadata() {
	m := a.Config.ClientIDMetadata
	if !m.Enabled {
		return
	}
	scopes := m.Scopes
	if len(scopes) == 0 {
		scopes = a.Config.Scopes // what a self-registered client may ask for
	}
	cache := fetcher.NewCache(a.Fetcher, fetcher.CacheConfig{
		MaxEntries: 1024, MinTTL: m.MinCacheTTL, MaxTTL: m.MaxCacheTTL, ErrorTTL: m.ErrorCacheTTL,
	})
	a.Clients.UseResolver(cimd.New(cache, scopes, a.Config.Fetch.MaxBytes))
}
