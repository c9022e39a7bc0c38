// A node-oidc-provider authorization server for `authserver bench` to
// measure beside ours: in-memory adapter (the library's default), one
// confidential client allowed client_credentials with client_secret_basic,
// ES256 (or --alg) signing keys generated at start, JWT access tokens for
// the default resource (features.resourceIndicators, accessTokenFormat
// 'jwt'), and introspection on.
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

const issuer = `http://127.0.0.1:${args.port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey(args.alg)] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: { ClientCredentials: 3600 },
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
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = createServer(provider.callback());
server.keepAliveTimeout = 120_000;
server.listen(Number(args.port), '127.0.0.1', () => console.log(`listening ${issuer}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
