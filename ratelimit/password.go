package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"

	"authserver/users"
)

// PasswordLimits are the limits of every password check, on the sign-in
// page and in the password grant alike; Counters is the one rule that says
// which of them an attempt is held to.
type PasswordLimits struct {
	// PerUser bounds failures per (username, source) and per trusted
	// device: what one place may guess at one account.
	PerUser Policy
	// PerUserUntrusted bounds the failures of all sources without a device
	// cookie together, per username: the cap on a distributed guesser. It
	// is higher than PerUser, so one source cannot reach it alone.
	PerUserUntrusted Policy
	// PerIP bounds sign-in page failures per source, whatever the username.
	PerIP Policy
	// PerClient bounds password-grant failures per client.
	PerClient Policy
	// InFlightPerSource bounds the checks one source may have waiting or
	// running on a node (0: no bound).
	InFlightPerSource int
}

// PasswordAttempt is what the limits of one password check depend on.
type PasswordAttempt struct {
	Username string
	// ClientIP is the source (ClientIP of the peer's address).
	ClientIP string
	// DeviceID is the nonce of a valid device cookie issued for Username,
	// "" for none (the password grant never has one).
	DeviceID string
	// ClientID is the password grant's authenticated client, "" on the
	// sign-in page, which is held per source instead.
	ClientID string
}

// Counters returns the counters of attempt.
//
// An attempt from a device the user signed in from before (a valid device
// cookie) is counted per device only, so failures of anyone else, who
// knows at most the username, cannot lock that device out. Any other
// attempt is counted per (username, source), per source or client, and per
// username over all untrusted sources at PerUserUntrusted. The username
// counters are shared by the password grant and the sign-in page, and
// case-insensitive, so neither the two nor a change of case buy more
// guesses. A username that
// cannot exist has no per-user counters (it cannot succeed either).
// Counters are ordered narrowest first, so an attempt refused by its own
// source's counter never touches the ones other sources share.
func (p PasswordLimits) Counters(a PasswordAttempt) []Counter {
	out := []Counter{{Name: "password_checks_in_flight_per_ip", Key: "password-source:" + a.ClientIP, InFlight: p.InFlightPerSource}}
	if a.DeviceID != "" {
		return append(out, Counter{Name: "password_per_device", Key: "password-device:" + digest(a.DeviceID), Policy: p.PerUser, ResetOnSuccess: true})
	}
	name, err := users.NormalizeUsername(a.Username)
	valid := err == nil
	if valid {
		out = append(out, Counter{Name: "password_per_user_ip", Key: "password-user-ip:" + name + "|" + a.ClientIP, Policy: p.PerUser, ResetOnSuccess: true})
	}
	if a.ClientID != "" {
		out = append(out, Counter{Name: "password_per_client", Key: "password-client:" + a.ClientID, Policy: p.PerClient})
	} else {
		out = append(out, Counter{Name: "sign_in_per_ip", Key: "login-ip:" + a.ClientIP, Policy: p.PerIP})
	}
	if valid {
		// Not reset by a success: a user signing in from one place must not
		// refill the budget of someone guessing from many.
		out = append(out, Counter{Name: "password_per_user", Key: "password-user:" + name, Policy: p.PerUserUntrusted})
	}
	return out
}

// digest keeps a device nonce out of the store: the key holds its hash.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}
