// An MCP client built on the official TypeScript SDK (Client, the
// Streamable HTTP transport and its OAuth support, unmodified), driven by
// app/mcp_test.go over JSON lines: one per message, stdin to stdout.
//
//   out: {"redirect_uri"}        the loopback callback it listens on
//   in:  {"server_url", "client_name", "client_metadata_url"?}
//   out: {"authorization_url"}   for the test's browser to open
//        ... the browser comes back to redirect_uri with the code ...
//   out: {"token"}               the token response the code got
//   out: {"result": {...}}       or {"error": message}, then exit 1
//
// The SDK does all of OAuth itself, from nothing but the MCP server's URL:
// the first request gets 401 with a resource_metadata challenge; the SDK
// reads the protected resource metadata (RFC 9728) and the authorization
// server's (RFC 8414), registers (RFC 7591, or with client_metadata_url a
// client ID metadata document when the server says it takes them), and
// builds the authorization URL with PKCE S256 and the resource indicator
// (RFC 8707). This script only keeps what the SDK asks it to keep, in
// memory, and listens for the redirect. After the code is redeemed it
// calls the whoami tool, waits until the access token has expired, and
// calls it again: the front answers 401 and the SDK refreshes the token
// and retries on its own.
import * as http from "node:http";
import * as crypto from "node:crypto";
import * as readline from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function read() {
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin closed before the next message");
  return JSON.parse(value);
}

function write(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

// claims decodes a JWT's payload without checking it: the Go test checks
// the signature; this is what the client itself could see.
function claims(jwt) {
  const parts = String(jwt).split(".");
  if (parts.length !== 3) throw new Error(`the access token is not a JWT: ${jwt}`);
  return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}

// The loopback redirect endpoint (RFC 8252 §7.3): it takes one
// authorization response, checks its state and hands on the code.
function listenForCallback() {
  let expectedState;
  let settle;
  const code = new Promise((resolve, reject) => (settle = { resolve, reject }));
  code.catch(() => {}); // rejected before anyone awaits it: reported later
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://127.0.0.1");
    if (u.pathname !== "/callback") {
      res.writeHead(404).end();
      return;
    }
    const q = u.searchParams;
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    if (q.get("error")) {
      res.end(`<!doctype html><title>MCP client</title><p id="error">${q.get("error")}</p>`);
      settle.reject(new Error(`authorization error ${q.get("error")}: ${q.get("error_description") ?? ""}`));
    } else if (!expectedState || q.get("state") !== expectedState) {
      res.end(`<!doctype html><title>MCP client</title><p id="error">state mismatch</p>`);
      settle.reject(new Error(`callback state ${q.get("state")}, want ${expectedState}`));
    } else {
      res.end(`<!doctype html><title>MCP client</title><p id="back">Signed in: back at the MCP client</p>`);
      settle.resolve({ code: q.get("code"), iss: q.get("iss") });
    }
  });
  const listening = new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  return {
    server,
    listening,
    code,
    setState(s) {
      expectedState = s;
    },
  };
}

// provider is the OAuthClientProvider the SDK asks: everything in memory.
class Provider {
  constructor({ redirectUri, clientName, clientMetadataUrl, onAuthorizationUrl, onState }) {
    this._redirectUri = redirectUri;
    this._clientName = clientName;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this._onAuthorizationUrl = onAuthorizationUrl;
    this._onState = onState;
    this.savedTokens = [];
    this.registrations = 0;
  }
  get redirectUrl() {
    return this._redirectUri;
  }
  get clientMetadata() {
    return {
      client_name: this._clientName,
      redirect_uris: [this._redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    const s = crypto.randomBytes(16).toString("base64url");
    this._onState(s);
    return s;
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this.registrations++;
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this.savedTokens.push(tokens);
    this._tokens = tokens;
  }
  redirectToAuthorization(url) {
    this.authorizationUrl = url.href;
    this._onAuthorizationUrl(url.href);
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    if (!this._verifier) throw new Error("no code verifier saved");
    return this._verifier;
  }
}

async function connect(serverUrl, provider) {
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
  const client = new Client({ name: "authserver-interop-mcp-client", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

function toolText(result) {
  const text = result?.content?.find((c) => c.type === "text")?.text;
  if (!text) throw new Error(`tool result without text: ${JSON.stringify(result)}`);
  return JSON.parse(text);
}

async function main() {
  const callback = listenForCallback();
  const port = await callback.listening;
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  write({ redirect_uri: redirectUri });

  const input = await read();
  for (const k of ["server_url", "client_name"]) {
    if (!input[k]) throw new Error(`input lacks ${k}`);
  }
  const provider = new Provider({
    redirectUri,
    clientName: input.client_name,
    clientMetadataUrl: input.client_metadata_url,
    onAuthorizationUrl: (url) => write({ authorization_url: url }),
    onState: (s) => callback.setState(s),
  });

  // 1. No token yet: the MCP server's 401 starts the SDK's OAuth flow,
  // which ends in redirectToAuthorization and an UnauthorizedError.
  const first = new StreamableHTTPClientTransport(new URL(input.server_url), { authProvider: provider });
  const unauthenticated = new Client({ name: "authserver-interop-mcp-client", version: "1.0.0" });
  try {
    await unauthenticated.connect(first);
    throw new Error("connected without signing in");
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  if (!provider.authorizationUrl) throw new Error("the SDK never asked to open an authorization URL");

  // 2. The browser signs in; its redirect brings the code.
  const { code, iss } = await callback.code;
  await first.finishAuth(code);
  await first.close();
  if (provider.savedTokens.length !== 1) throw new Error(`${provider.savedTokens.length} token responses saved after the code`);
  const issued = provider.savedTokens[0];
  write({ token: issued });

  // 3. Connected with the token: a tool call.
  const { client, transport } = await connect(input.server_url, provider);
  const tools = await client.listTools();
  const whoami = toolText(await client.callTool({ name: "whoami", arguments: {} }));

  // 4. The access token expires; the next call gets 401 and the SDK
  // refreshes on its own, then retries.
  const exp = claims(issued.access_token).exp;
  const wait = exp * 1000 - Date.now() + 1100;
  if (wait > 30000) throw new Error(`the access token lives ${wait} ms more: too long to wait for`);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const whoamiAfter = toolText(await client.callTool({ name: "whoami", arguments: {} }));
  await transport.close();
  const refreshed = provider.savedTokens.at(-1);

  const info = provider.clientInformation();
  write({
    result: {
      authorization_url: provider.authorizationUrl,
      callback_iss: iss,
      redirect_uri: redirectUri,
      client_id: info?.client_id,
      client_secret: info?.client_secret ?? null,
      registered_auth_method: info?.token_endpoint_auth_method ?? null,
      registrations: provider.registrations,
      tools: tools.tools.map((t) => t.name),
      whoami,
      access_token: issued.access_token,
      refresh_token: issued.refresh_token ?? null,
      claims: claims(issued.access_token),
      whoami_after_refresh: whoamiAfter,
      token_responses: provider.savedTokens.length,
      refreshed_access_token: refreshed.access_token,
      refreshed_refresh_token: refreshed.refresh_token ?? null,
      refreshed_claims: claims(refreshed.access_token),
    },
  });
  callback.server.close();
}

try {
  await main();
  process.exit(0);
} catch (err) {
  let cause = "";
  if (err?.cause instanceof Error) cause = `: ${err.cause.message}`;
  else if (err?.cause !== undefined) cause = `: ${JSON.stringify(err.cause)}`;
  write({ error: `${err?.name ?? "Error"}: ${err?.message ?? err}${cause}`, stack: err?.stack });
  process.exit(1);
}
