package server

import (
	"errors"

	"authserver/cimd"
	"authserver/clients"
)

// unknownClientMessage is the error page's text for a client_id that names
// no usable client; a client ID metadata document that was refused says why.
func unknownClientMessage(err error) string {
	if re, ok := errors.AsType[*clients.ResolveError](err); ok {
		return "The application that sent you here could not be accepted: " + re.Reason + "."
	}
	return "The application that sent you here is not registered."
}

// describeUnverified marks the consent page of a client no administrator
// registered with where its document came from.
func describeUnverified(d *pageData, c *clients.Client) {
	if c.Unverified() {
		d.ClientHost = cimd.Host(c.ID)
	}
}
