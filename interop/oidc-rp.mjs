// A relying party built on openid-client, driven by app/openidclient_test.go
// over JSON lines: one per message, stdin to stdout.
//
//   in:  {"issuer", "client_id", "client_secret", "redirect_uri", "scope",
//         "post_logout_redirect_uri", "token_endpoint_auth_method"?}
//   out: {"authorization_url"}
//   in:  {"callback_url"}    where the server sent the browser back
//   out: {"result": {...}}   or {"error": message}, then exit 1
//
// openid-client does every check a relying party does: discovery, PKCE
// S256, state, iss (RFC 9207), nonce, the ID Token's claims and, with the
// non-repudiation checks on, its signature against the server's JWKS; then
// UserInfo for the ID Token's subject, a refresh and the RP-Initiated
// Logout URL.
import * as readline from "node:readline";
import * as client from "openid-client";

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function read() {
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin closed before the next message");
  return JSON.parse(value);
}

function write(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

function clientAuth(method, secret) {
  switch (method ?? "client_secret_basic") {
    case "client_secret_basic":
      return client.ClientSecretBasic(secret);
    case "client_secret_post":
      return client.ClientSecretPost(secret);
    default:
      throw new Error(`unsupported token_endpoint_auth_method ${method}`);
  }
}

async function main() {
  const input = await read();
  for (const k of ["issuer", "client_id", "client_secret", "redirect_uri", "scope", "post_logout_redirect_uri"]) {
    if (!input[k]) throw new Error(`input lacks ${k}`);
  }
  // The test server is plain HTTP on loopback.
  const config = await client.discovery(
    new URL(input.issuer),
    input.client_id,
    { client_secret: input.client_secret },
    clientAuth(input.token_endpoint_auth_method, input.client_secret),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const server = config.serverMetadata();

  const codeVerifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    nonce,
    state,
  });
  write({ authorization_url: authorizationUrl.href });

  const { callback_url: callbackUrl } = await read();
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!tokens.refresh_token) throw new Error("the token response has no refresh_token");

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.claims();
  if (!refreshedClaims) throw new Error("the refresh response has no id_token");

  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token,
    post_logout_redirect_uri: input.post_logout_redirect_uri,
    state: "rp-" + client.randomState(),
  });

  write({
    result: {
      end_session_endpoint: server.end_session_endpoint,
      id_token: tokens.id_token,
      claims,
      userinfo,
      refreshed_id_token: refreshed.id_token,
      refreshed_claims: refreshedClaims,
      refresh_token_rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
      end_session_url: endSessionUrl.href,
    },
  });
}

try {
  await main();
  process.exit(0);
} catch (err) {
  // The server's own words where openid-client kept them: an error
  // response's body, a WWW-Authenticate challenge, a lower-level cause.
  let cause = "";
  if (err?.cause instanceof Error) cause = `: ${err.cause.message}`;
  else if (err?.cause !== undefined) cause = `: ${JSON.stringify(err.cause)}`;
  write({ error: `${err?.name ?? "Error"}: ${err?.message ?? err}${cause}`, code: err?.code });
  process.exit(1);
}
