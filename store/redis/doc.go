// Package redisstore is the Redis backend: a store.Backend on a
// redis.UniversalClient, for a standalone server, a Sentinel group or a
// Redis Cluster (Connect builds the right client from Options).
//
// # Principles
//
//   - One state change, one round trip, atomic: every change that reads
//     before it writes is one Lua script (redis.NewScript: EVALSHA, EVAL on
//     NOSCRIPT), so concurrent callers on any number of server nodes see it
//     happen at once or not at all.
//   - Legal on a cluster: a script touches only keys sharing one hash tag,
//     so it never fails with CROSSSLOT. Keys of different records are in
//     different slots and spread over the cluster; where one operation spans
//     two records (a user and its username, a record and its index), it is
//     two commands in an order chosen so a crash between them is harmless
//     (below).
//   - Store a hash, never a token: codes, refresh tokens and session
//     cookies appear only as the hex of the SHA-256 the caller passes, and
//     anything that is not 32 bytes is refused, so a raw token passed by
//     mistake never becomes a key.
//   - Redis forgets for us: every record with an end has a key expiry at
//     that end (PEXPIREAT/PXAT, rounded up to the millisecond), so nothing
//     needs sweeping. Where a method is given a now (RotateRefresh,
//     RedeemCode) expiry is judged by it inside the script, and in
//     LookupRefresh (one HGETALL: a read needs no script) after the read;
//     elsewhere by the wall clock.
//   - Contract errors only: redis.Nil and script outcomes become the
//     contract's errors (clients.ErrNotFound, tokens.ErrReuse, ...); only
//     connection and server failures come back as wrapped Redis errors.
//
// # Keys
//
// Every key starts with the KeyPrefix given to New (several deployments can
// share one Redis). The part in braces is the hash tag; IDs are used as
// given, and since "{kind:" + id + "}" is a different string for every id,
// no two records share a key. A prefix holding braces would pin every key to
// one slot: legal, but unbalanced.
//
//	key                   type    holds                                    expires
//	{client:<id>}         string  client JSON                              never
//	{clients}             set     client IDs, for ListClients              never
//	{user:<id>}           string  user JSON                                never
//	{uname:<username>}    string  the user ID owning the username          never (lease while created)
//	{users}               set     user IDs, for ListUsers                  never
//	{keys}:all            hash    kid -> signing key JSON                  never
//	{keys}:alg            hash    alg -> kid of the algorithm's first key  never
//	{keys}:rotation:<alg>:<kid>  string  "1": a node claimed the scheduled rotation after kid  5 minutes
//	{rl:<key>}            string  failure count of one window              end of the window
//	{fam:<id>}            hash    refresh-token family (fields below)      the family's ExpiresAt
//	{ufam:<userID>}       zset    the user's family IDs, scored by expiry  the latest family's ExpiresAt
//	{cfam:<clientID>}     zset    the client's family IDs, likewise        the latest family's ExpiresAt
//	{code:<sha256 hex>}   hash    d: code JSON, exp, used                  the code's ExpiresAt
//	{deny:<jti>}          string  "1": the access token is revoked         the token's expiry (until)
//	{sess:<sha256 hex>}   string  session JSON                             the session's ExpiresAt
//	{consent:<userID>}    hash    clientID -> consent JSON                 never
//	{iat:<sha256 hex>}    hash    uses (left), exp: initial access token   the token's ExpiresAt (or its last use)
//
// Fields of {fam:<id>}: d (the Family JSON as created: the fields that never
// change), client, exp, idle (times, see below), gen, jti, cur and prev (hex
// of the current and previous token hashes), rot (when prev was replaced),
// rev ("1" once revoked). A tombstone is the same key holding only tomb=1.
//
// Times that scripts compare are 20-digit zero-padded Unix nanoseconds:
// strings of one width compare in time order exactly, which Lua's 53-bit
// numbers could not do with nanoseconds.
//
// # Scripts
//
//	script                 keys                    why one script
//	scriptFamilyCreate     {fam:id}                create only if no live family or tombstone holds the ID
//	scriptFamilyRotate     {fam:id}                the rotation state machine: exactly one of 100 racers wins
//	scriptFamilyRevoke     {fam:id}                revoke, or tombstone an absent ID, without a window between
//	scriptFamilyIndexAdd   {ufam:user}, {cfam:c}   add and stretch the index expiry to its latest family together (one index a call)
//	scriptCodeSave         {code:h}                replace and set the expiry together
//	scriptCodeRedeem       {code:h}                consume once; replays get the code and ErrCodeReused
//	scriptKeyFirst         {keys}:all, {keys}:alg  nodes that start together agree on one first key
//	scriptKeyAdd           {keys}:all, {keys}:alg  add a key and claim first place for its algorithm if free
//	scriptRateAdd          {rl:key}                INCR, and PEXPIRE only for the window's first failure
//	scriptRateRead         {rl:key}                count and time left read at one instant
//	scriptDelIfEquals      {uname:name}            release a username only if this user holds it
//	scriptPersistIfEquals  {uname:name}            confirm a username claim only if it has not lapsed
//	scriptIATCreate        {iat:h}                 create only if absent, with its expiry
//	scriptSessionClientAdd {slog:user}             prune, cap and add, stretching the key's expiry to its latest field
//	scriptIATUse           {iat:h}                 spend one use; of racing callers exactly as many win as there are uses
//
// # Writes across slots
//
// Families and the user index: the family is written first (one script),
// then its ID is added to {ufam:user} and {cfam:client} (one pipeline). A crash between the two leaves a
// family that is not listed, but CreateFamily then did not return, so no
// token of that family was ever handed out: nothing can use it. An ID is
// added to an index only after its family exists, so the listings may
// drop an ID whose key is gone (expired or evicted), revoked, or another
// user's (none of them can become live again) without racing a create. It
// keeps expired-but-present IDs, because a rotation judges expiry by its
// caller's clock, and the keys vanish by themselves at their absolute end.
//
// Users: a user exists when {user:id} exists and {uname:<its username>}
// holds id; reads check both, so the username key is the commit point.
// CreateUser claims the username with SET NX and a lease (PX), writes the
// record with SET NX (ErrExists, and the claim released, if the ID is
// taken), indexes the ID, then makes the claim permanent if it is still its
// own. DeleteUser releases the claim first (the user is gone from that
// instant), then the index entry, then the record. Whatever a crash leaves
// (a record without a claim, a claim without a record, which lapses) reads
// as no user and never blocks a username for good.
//
// Clients: CreateClient adds the ID to {clients}, writes the record with SET
// NX, and adds the ID again; DeleteClient removes the ID, then the record.
// Whatever the interleaving of a create and a delete of one ID, a client
// that exists is listed; the index may hold an ID without a record (a
// crash), which ListClients skips.
package redisstore
