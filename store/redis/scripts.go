package redisstore

import "github.com/redis/go-redis/v9"

// Every state change that reads before it writes is one of these scripts:
// Redis runs a script alone, so it is atomic, and go-redis sends EVALSHA
// (falling back to EVAL once per server), so it is one round trip. Each
// script touches only the keys it declares, all with one hash tag, so it is
// legal on a cluster. Times are 20-digit nanosecond strings (see nanos) and
// compare as strings.

// scriptDelIfEquals deletes KEYS[1] only while it still holds ARGV[1]: a
// username is released only by the user it names.
var scriptDelIfEquals = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// scriptPersistIfEquals makes KEYS[1] permanent only while it still holds
// ARGV[1]: a username reservation becomes the user's only if it did not
// lapse first.
var scriptPersistIfEquals = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PERSIST', KEYS[1])
  return 1
end
return 0
`)

// scriptKeyFirst: KEYS[1] = {keys}:all (kid -> key JSON), KEYS[2] =
// {keys}:alg (alg -> kid of its first key); ARGV = alg, kid, JSON. Returns
// the JSON of the key stored for alg, storing ARGV's key when there is none,
// so nodes starting together agree on one key.
var scriptKeyFirst = redis.NewScript(`
local kid = redis.call('HGET', KEYS[2], ARGV[1])
if kid then
  local j = redis.call('HGET', KEYS[1], kid)
  if j then return j end
end
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then
  return redis.error_reply('key id already stored for another algorithm')
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[3]
`)

// scriptKeyAdd: same keys and arguments as scriptKeyFirst. Adds a key
// (never replacing one with the same kid) and makes it its algorithm's first
// key if it has none. Returns 0 when the kid was taken.
var scriptKeyAdd = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 1
`)

// scriptRateAdd: KEYS[1] = counter, ARGV[1] = window in ms. Counts one
// failure, opening the window (PEXPIRE) only with the first one, so later
// failures never extend it. Returns {count, ms left}.
var scriptRateAdd = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if n == 1 or left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {n, left}
`)

// scriptRateReserve: KEYS[1] = counter, ARGV[1] = max, ARGV[2] = window in
// ms. Refuses without counting when the count is at max; otherwise counts
// one, opening the window (PEXPIRE) when the count starts from zero, so
// later reservations never extend it. Returns {1 taken or 0 refused, count,
// ms left}.
var scriptRateReserve = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then left = 0 end
  return {0, n, left}
end
n = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if n == 1 or left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  left = tonumber(ARGV[2])
end
return {1, n, left}
`)

// scriptRateRelease: KEYS[1] = counter. Gives one reservation back, never
// below zero; DECR keeps the key's expiry, so the window stays where it is.
var scriptRateRelease = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
`)

// famLive is the Lua test "the hash f is a family, unexpired at now" that
// the family scripts share: an expired family reads as no family.
const famLive = `
local function live(f, now)
  return f.d ~= nil and now < f.exp and now < f.idle
end
local function load(key)
  local h = redis.call('HGETALL', key)
  local f = {}
  for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
  return f, h
end
`

// scriptFamilyCreate: KEYS[1] = {fam:id}; ARGV = d (family JSON), client,
// exp, idle, gen, jti, cur (token hash hex), rev, expire-at ms, now. Fails
// (0) when the ID holds a tombstone or a live family; an expired family is
// replaced, as it no longer exists.
var scriptFamilyCreate = redis.NewScript(famLive + `
local f = load(KEYS[1])
if f.tomb or live(f, ARGV[10]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'client', ARGV[2], 'exp', ARGV[3],
  'idle', ARGV[4], 'gen', ARGV[5], 'jti', ARGV[6], 'cur', ARGV[7], 'rev', ARGV[8])
redis.call('PEXPIREAT', KEYS[1], ARGV[9])
return 1
`)

// Outcomes of scriptFamilyRotate and scriptFamilyRevoke.
const (
	famNotFound  = 0
	famOK        = 1
	famRevoked   = 2
	famMismatch  = 3
	famReuse     = 4
	famRetried   = 5
	famRecovered = 6
)

// scriptFamilyRotate: KEYS[1] = {fam:id}; ARGV = client, presented hex,
// next hex, next jti, now, now+idle ("" for no idle limit), now-grace (""
// for no grace), presented generation. The whole rotation state machine of
// tokens.RefreshStore, checked in this order:
//   - missing, tombstone, or past its absolute or idle expiry at now: not
//     found;
//   - another client: mismatch, nothing changes (whatever token it shows);
//   - revoked: revoked, nothing changes;
//   - presented is current: rotate;
//   - next is current and was made less than grace ago: retried, nothing
//     changes (the caller answers with the same successor again);
//   - presented generation later than the stored one: recovered, rotate (the
//     store lost the rotations that made the presented token);
//   - anything else: revoke the family, reuse.
//
// A rotation sets current := next, generation := presented generation + 1,
// rotated at := now, jti := next jti and idle expiry := min(now+idle, exp).
// Returns {outcome, HGETALL after} (the family for all but not found and
// mismatch).
var scriptFamilyRotate = redis.NewScript(famLive + `
local now = ARGV[5]
local f, h = load(KEYS[1])
if not live(f, now) then return {0} end
if f.client ~= ARGV[1] then return {3} end
if f.rev == '1' then return {2, h} end
local outcome = 1
if f.cur == ARGV[2] then
  outcome = 1
elseif ARGV[7] ~= '' and f.cur == ARGV[3] and (f.rot or '') > ARGV[7] then
  return {5, h}
elseif tonumber(ARGV[8]) > tonumber(f.gen) then
  outcome = 6
else
  redis.call('HSET', KEYS[1], 'rev', '1')
  return {4, redis.call('HGETALL', KEYS[1])}
end
local idle = f.exp
if ARGV[6] ~= '' and ARGV[6] < idle then idle = ARGV[6] end
redis.call('HSET', KEYS[1], 'cur', ARGV[3], 'gen', tonumber(ARGV[8]) + 1, 'rot', now, 'idle', idle, 'jti', ARGV[4])
return {outcome, redis.call('HGETALL', KEYS[1])}
`)

// scriptFamilyRevoke: KEYS[1] = {fam:id}; ARGV = tombstone ms, now. Marks a
// live family revoked (again, if it was) and returns {ok, HGETALL}. When
// there is no live family it leaves a tombstone (replacing an expired
// family, extending an earlier tombstone) so a create of this ID fails for
// the tombstone's lifetime, and returns {not found}.
var scriptFamilyRevoke = redis.NewScript(famLive + `
local ttl = tonumber(ARGV[1])
local f = load(KEYS[1])
if live(f, ARGV[2]) then
  redis.call('HSET', KEYS[1], 'rev', '1')
  return {1, redis.call('HGETALL', KEYS[1])}
end
if ttl > 0 then
  if not f.tomb then redis.call('DEL', KEYS[1]) end
  redis.call('HSET', KEYS[1], 'tomb', '1')
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return {0}
`)

// scriptFamilyIndexAdd: KEYS[1] = {ufam:user} or {cfam:client} (sorted set
// of family IDs scored by their expiry in ms); ARGV = expiry ms, family ID.
// Adds the ID and keeps the index alive exactly as long as its
// longest-lived family.
var scriptFamilyIndexAdd = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], top[2])
return 1
`)

// scriptCodeSave: KEYS[1] = {code:hash}; ARGV = code JSON, exp, expire-at ms.
// Replaces whatever was there (a fresh, unused code).
var scriptCodeSave = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`)

// Outcomes of scriptCodeRedeem.
const (
	codeNotFound = 0
	codeOK       = 1
	codeReused   = 2
)

// scriptCodeRedeem: KEYS[1] = {code:hash}; ARGV[1] = now. Marks the code used
// and returns {ok, JSON}; a used code answers {reused, JSON} until it
// expires, so a replay can revoke what the first redemption issued; a code
// past its expiry at now is not found.
var scriptCodeRedeem = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'd', 'exp', 'used')
if not v[1] then return {0} end
if ARGV[1] >= v[2] then return {0} end
if v[3] == '1' then return {2, v[1]} end
redis.call('HSET', KEYS[1], 'used', '1')
return {1, v[1]}
`)
