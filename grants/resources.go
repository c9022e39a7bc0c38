package grants

import (
	"context"
	"errors"
	"time"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/resources"
)

// ErrInvalidTarget is RFC 8707 §2's error code: a resource parameter that
// is malformed, not registered, or not among what the grant holds.
// go-oauth2's errors package predates RFC 8707.
var ErrInvalidTarget = errors.New("invalid_target")

// accessTarget is what one access token is minted for: the aud, the scope
// it carries and its lifetime. A nil audience is the client's.
type accessTarget struct {
	audience []string
	scope    string
	ttl      time.Duration
}

// requestedResources reads a request's resource parameters (RFC 8707 §2;
// readTokenForm lets this one repeat): each an absolute URI without a
// fragment.
func requestedResources(req *tokenRequest) ([]string, error) {
	ids, err := resources.ParseIndicators(req.form["resource"])
	if err != nil {
		return nil, oauthErr(ErrInvalidTarget, "%s", err.Error()) // a fixed text: never the caller's value
	}
	return ids, nil
}

// grantTarget is the access token a code exchange or a refresh asks for
// out of what its grant holds: a subset of its resources, or all of them
// when it names none (less any deleted since; invalid_target when none is
// left). Asking for anything else is invalid_target, so the resources of
// a grant never widen.
func (e *Endpoint) grantTarget(ctx context.Context, asked, granted []string, scope string) (accessTarget, error) {
	if err := checkNarrowing(asked, granted); err != nil {
		return accessTarget{}, err
	}
	if len(asked) > 0 || len(granted) == 0 {
		return e.target(ctx, asked, scope)
	}
	rs, err := e.targets.Registered(ctx, granted)
	if err != nil {
		return accessTarget{}, err
	}
	if len(rs) == 0 {
		return accessTarget{}, oauthErr(ErrInvalidTarget, "no resource of this grant is registered any more")
	}
	return e.targetFor(rs, scope)
}

// checkNarrowing refuses resources that are not among those granted.
func checkNarrowing(asked, granted []string) error {
	if !resources.Subset(asked, granted) {
		return oauthErr(ErrInvalidTarget, "a resource was not granted by the authorization this request is based on")
	}
	return nil
}

// target works out the access token for the resources ids out of the
// granted scope (resources.For has the rule). Without resources it is the
// client's audience with the granted scope, as before RFC 8707. A
// resource that is not registered (or no longer is) is invalid_target;
// one that leaves no scope is invalid_scope.
func (e *Endpoint) target(ctx context.Context, ids []string, granted string) (accessTarget, error) {
	if len(ids) == 0 {
		return accessTarget{scope: granted, ttl: e.cfg.AccessTTL}, nil
	}
	rs, err := e.targets.Resolve(ctx, ids)
	if errors.Is(err, resources.ErrUnknown) {
		return accessTarget{}, oauthErr(ErrInvalidTarget, "a resource is not registered at this server")
	}
	if err != nil {
		return accessTarget{}, err
	}
	return e.targetFor(rs, granted)
}

// targetFor is target for resources already resolved.
func (e *Endpoint) targetFor(rs []resources.Resource, granted string) (accessTarget, error) {
	t, ok := resources.For(rs, granted, e.cfg.AccessTTL)
	if !ok {
		return accessTarget{}, oauthErr(oerrors.ErrInvalidScope, "no granted scope is accepted by the requested resources")
	}
	return accessTarget{audience: t.Audience, scope: t.Scope, ttl: t.TTL}, nil
}

// CheckResources checks the resource parameters of an authorization
// request (RFC 8707 §2) for the authorization endpoint: well formed,
// registered, and leaving a scope of granted. It returns them without
// repeats (for the consent page), and an *Error (invalid_target,
// invalid_scope) or the store's error.
func (e *Endpoint) CheckResources(ctx context.Context, values []string, granted string) ([]resources.Resource, error) {
	ids, err := resources.ParseIndicators(values)
	if err != nil {
		return nil, oauthErr(ErrInvalidTarget, "%s", err.Error())
	}
	rs, err := e.targets.Resolve(ctx, ids)
	if errors.Is(err, resources.ErrUnknown) {
		return nil, oauthErr(ErrInvalidTarget, "a resource is not registered at this server")
	}
	if err != nil {
		return nil, err
	}
	if _, err := e.targetFor(rs, granted); err != nil {
		return nil, err
	}
	return rs, nil
}
