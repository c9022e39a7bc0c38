// An MCP server built on the official TypeScript SDK (McpServer and the
// Streamable HTTP transport, stateless), run by app/mcp_test.go behind a Go
// front that checks the access tokens with package resource.
//
//   out: {"url": "http://127.0.0.1:PORT/mcp"}   once listening
//
// The server does no OAuth itself: the front lets through only requests
// with a valid token, drops their Authorization header (the token is for
// the front, not to be passed on) and tells the server who is calling in
// X-Authserver-Subject, X-Authserver-Client-Id and X-Authserver-Scope,
// which it hands to the SDK as the request's AuthInfo. One tool, whoami,
// answers with them, so a test sees that a tool call reached the server
// with the identity the token carried.
import * as http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

function newServer() {
  const server = new McpServer({ name: "authserver-interop-mcp", version: "1.0.0" });
  server.registerTool(
    "whoami",
    { title: "Who am I", description: "The subject, client and scope of the caller's access token." },
    async (extra) => {
      const auth = extra.authInfo;
      const who = { sub: auth?.extra?.sub ?? null, client_id: auth?.clientId ?? null, scope: auth?.scopes ?? [] };
      return { content: [{ type: "text", text: JSON.stringify(who) }], structuredContent: who };
    },
  );
  return server;
}

async function readJSON(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1 << 20) throw new Error("body too large");
    chunks.push(chunk);
  }
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
}

const httpServer = http.createServer(async (req, res) => {
  const path = new URL(req.url, "http://localhost").pathname;
  if (path !== "/mcp") {
    res.writeHead(404).end();
    return;
  }
  if (req.method !== "POST") {
    // Stateless: no standalone SSE stream and no session to delete.
    res.writeHead(405, { Allow: "POST" }).end();
    return;
  }
  const sub = req.headers["x-authserver-subject"];
  if (!sub) {
    // Only the front reaches this server; a request without the identity
    // it adds did not come through it.
    res.writeHead(403, { "Content-Type": "text/plain" }).end("not through the front");
    return;
  }
  req.auth = {
    token: "",
    clientId: String(req.headers["x-authserver-client-id"] ?? ""),
    scopes: String(req.headers["x-authserver-scope"] ?? "").split(" ").filter(Boolean),
    extra: { sub: String(sub) },
  };
  const server = newServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    transport.close();
    server.close();
  });
  try {
    const body = await readJSON(req);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (err) {
    process.stderr.write(`mcp-server: ${err?.stack ?? err}\n`);
    if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" }).end(String(err?.message ?? err));
  }
});

httpServer.listen(0, "127.0.0.1", () => {
  const { port } = httpServer.address();
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` }) + "\n");
});

// The test closes stdin (or ends) when it is done: stop then.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
