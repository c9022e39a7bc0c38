// A node-oidc-provider authorization server for `authserver bench` to
// measure beside ours: an in-memory adapter (the library's own without
// its bound of 1000 entries: see MapAdapter), one confidential client
// (client_secret_basic) allowed client_credentials, authorization_code
// (PKCE S256) and refresh_token, ES256 (or --alg) signing keys generated
// at start, JWT access tokens for the default resource
// (features.resourceIndicators, accessTokenFormat 'jwt'), and
// introspection on. Errors of the token endpoint go to stderr, which the
// benchmark keeps in its work directory (--keep).
//
// There is no sign-in page: its interaction route signs the one user in
// and grants what the client asked for, the way a user who always clicks
// "allow" would (the benchmark's own client is first party and skips
// consent too). Refresh tokens are issued on every code exchange and
// rotated on use, as ours are.
//
// oidc-provider refuses to introspect structured (JWT) tokens
// (unsupported_token_type), so a second resource, urn:bench:opaque, gets
// opaque access tokens: the benchmark mints the tokens it introspects with
// resource=urn:bench:opaque.
//
// It listens on 127.0.0.1 only and prints "listening <url>" once ready.
//
//   node interop/bench-peer-oidc-provider.mjs --port 9097 \
//     --client-id bench --client-secret s3cret [--alg ES256]
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9097' },
    'client-id': { type: 'string', default: 'bench' },
    'client-secret': { type: 'string', default: 'bench-secret' },
    alg: { type: 'string', default: 'ES256' },
    'redirect-uri': { type: 'string', default: 'http://127.0.0.1/cb' },
    user: { type: 'string', default: 'bench' },
  },
});

const JWT_RESOURCE = 'urn:bench:api';
const OPAQUE_RESOURCE = 'urn:bench:opaque';

function signingKey(alg) {
  let pair;
  switch (alg) {
    case 'ES256':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'EdDSA':
      pair = generateKeyPairSync('ed25519');
      break;
    case 'RS256':
      pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      break;
    default:
      throw new Error(`unsupported --alg ${alg}`);
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `bench-${alg}` };
}

// MapAdapter is oidc-provider's quick-start memory adapter
// (lib/adapters/memory_adapter.js) on a Map instead of an LRU of 1000
// entries: with that bound, codes minted ahead of a window are evicted
// before they are redeemed ("authorization code not found"). Entries
// expire on read, like the LRU's; the process lives for one scenario.
const storage = new Map();
const now = () => Date.now();
function get(key) {
  const e = storage.get(key);
  if (!e) return undefined;
  if (e.expires && e.expires <= now()) {
    storage.delete(key);
    return undefined;
  }
  return e.value;
}
function set(key, value, expiresIn) {
  storage.set(key, { value, expires: expiresIn ? now() + expiresIn * 1000 : 0 });
}
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async destroy(id) { storage.delete(this.key(id)); }

  async consume(id) { get(this.key(id)).consumed = Math.floor(now() / 1000); }

  async find(id) { return get(this.key(id)); }

  async findByUid(uid) { return this.find(get(`sessionUid:${uid}`)); }

  async findByUserCode(userCode) { return this.find(get(`userCode:${userCode}`)); }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') set(`sessionUid:${payload.uid}`, id, expiresIn);
    const { grantId, userCode } = payload;
    if (grantable.has(this.model) && grantId) {
      const grant = get(`grant:${grantId}`);
      if (grant) grant.push(key);
      else set(`grant:${grantId}`, [key]);
    }
    if (userCode) set(`userCode:${userCode}`, id, expiresIn);
    set(key, payload, expiresIn);
  }

  async revokeByGrantId(grantId) { // eslint-disable-line class-methods-use-this
    const grant = get(`grant:${grantId}`);
    if (grant) {
      grant.forEach((k) => storage.delete(k));
      storage.delete(`grant:${grantId}`);
    }
  }
}

const issuer = `http://127.0.0.1:${args.port}`;
const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [args['redirect-uri']],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey(args.alg)] },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // Codes are minted before the measured window, as for ours (10m).
  ttl: {
    AccessToken: 3600, AuthorizationCode: 600, ClientCredentials: 3600, Grant: 86400, Interaction: 600, RefreshToken: 86400, Session: 86400,
  },
  issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  enabledJWA: { idTokenSigningAlgValues: [args.alg] },
  clientDefaults: { id_token_signed_response_alg: args.alg },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // The default policy, spelled out (the client introspects its own tokens).
    introspection: { enabled: true, allowedPolicy: () => true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => JWT_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        switch (resource) {
          case JWT_RESOURCE:
            return {
              scope: 'profile',
              audience: JWT_RESOURCE,
              accessTokenTTL: 3600,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: args.alg } },
            };
          case OPAQUE_RESOURCE:
            return {
              scope: 'profile', audience: OPAQUE_RESOURCE, accessTokenTTL: 3600, accessTokenFormat: 'opaque',
            };
          default:
            throw new errors.InvalidTarget();
        }
      },
    },
  },
});
// The interaction route: sign the user in, grant the client's request.
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!m || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: args.user, clientId: params.client_id });
  // At the login prompt the missing scopes are not listed yet: grant what
  // the request asks for, so one interaction covers sign-in and consent.
  const asked = (params.scope || '').split(' ').filter(Boolean);
  grant.addOIDCScope(asked.filter((sc) => ['openid', 'offline_access'].includes(sc)).join(' '));
  grant.addResourceScope(params.resource || JWT_RESOURCE, asked.join(' '));
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  for (const [resource, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  const result = { login: { accountId: args.user }, consent: { grantId: await grant.save() } };
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.respond = false;
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.on('grant.error', (_ctx, err) => console.error('grant.error', err.error_detail || err.message));
provider.on('grant.revoked', (_ctx, grantId) => console.error('grant.revoked', grantId));

const server = createServer(provider.callback());
server.keepAliveTimeout = 120_000;
server.listen(Number(args.port), '127.0.0.1', () => console.log(`listening ${issuer}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
