// The MCP authorization server peer of Latchkey's end-to-end tests (`tests/tests/e2e/mcp.rs`): the
// certified `oidc-provider` as an MCP server's authorization server, over TLS for the names the
// test leads to it (a test CA made here with the `openssl` command; the test trusts it), with
// open dynamic client registration, resource indicators (RFC 8707) for one resource, PKCE, and
// the MCP server's protected-resource metadata (RFC 9728) beside it.
//
// Environment: ISSUER (`https://<name>[/<path>]`), HOSTS (comma-separated names on the
// certificate), ROUTES (JSON: oidc-provider's route names → paths, to sit at a catalog entry's
// URLs), RESOURCE (the one resource indicator accepted), RESOURCE_SCOPES (space-separated),
// METADATA (JSON merged over the discovery document: a test's hostile authorization server).
// `/.well-known/oauth-protected-resource[/…]` is served on the host of RESOURCE. Prints one
// JSON line `{"port", "ca"}` on stdout and exits when its stdin closes.
//
// `GET /__test/seen` answers what the provider saw: how many requests reached it, and from its
// own events each registration's
// `token_endpoint_auth_method`, each authorization request's `resource` and
// `code_challenge_method`, each grant's type and `resource`. `POST /__test/introspect` (form
// `token`) answers whether an access token is one it issued, its audience and client.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const issuer = env('ISSUER');
const hosts = env('HOSTS', new URL(issuer).hostname).split(',');
const resource = env('RESOURCE', '');
const resourceScopes = env('RESOURCE_SCOPES', '');
const routes = JSON.parse(env('ROUTES', '{}'));
const metadataOverride = JSON.parse(env('METADATA', '{}'));

function certificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-mcp-peer-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mcp test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'server.csr', '-subj', `/CN=${hosts[0]}`);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}\n`);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf');
  const read = (n) => fs.readFileSync(path.join(dir, n), 'utf8');
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

const tls = certificates();
const server = https.createServer({ cert: tls.cert, key: tls.key });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const scopes = ['openid', 'offline_access', ...resourceScopes.split(' ').filter(Boolean)];
const provider = new Provider(issuer, {
  routes,
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return { scope: resourceScopes, audience: resource, accessTokenFormat: 'opaque' };
      },
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  scopes,
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
});
provider.proxy = true;
provider.on('server_error', (ctx, err) => console.error('oidc server_error', err));

const seen = { requests: 0, registrations: [], authorizations: [], grants: [] };
provider.on('registration_create.success', (ctx, client) => {
  seen.registrations.push({ client_id: client.clientId, token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes, redirect_uris: client.redirectUris });
});
provider.on('authorization.accepted', (ctx) => {
  const p = ctx.oidc.params;
  seen.authorizations.push({ client_id: p.client_id, resource: p.resource ?? null, code_challenge_method: p.code_challenge_method ?? null, scope: p.scope ?? null });
});
provider.on('grant.success', (ctx) => {
  const p = ctx.oidc.params;
  seen.grants.push({ client_id: ctx.oidc.client?.clientId, grant_type: p.grant_type, resource: p.resource ?? null,
    code_verifier: Boolean(p.code_verifier) });
});

const json = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};
const discovery = /^\/\.well-known\/(openid-configuration|oauth-authorization-server)/;
const callback = provider.callback();
const issuerPath = new URL(issuer).pathname.replace(/\/$/, '');

server.on('request', async (req, res) => {
  const url = new URL(req.url, `https://${req.headers.host}`);
  if (url.pathname === '/__test/seen') return json(res, 200, seen);
  if (!url.pathname.startsWith('/__test/')) seen.requests += 1;
  if (url.pathname === '/__test/introspect') {
    const body = await new Promise((resolve) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => resolve(b)); });
    const token = new URLSearchParams(body).get('token');
    const found = token ? await provider.AccessToken.find(token) : undefined;
    return json(res, 200, found ? { active: true, aud: found.aud ?? null, client_id: found.clientId } : { active: false });
  }
  if (resource && url.hostname === new URL(resource).hostname && url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
    return json(res, 200, { resource, authorization_servers: [issuer], scopes_supported: resourceScopes.split(' ').filter(Boolean) });
  }
  if (url.hostname !== new URL(issuer).hostname) return json(res, 404, { error: 'not_found' });
  // RFC 8414 puts the issuer's path after the well-known segment; oidc-provider serves its
  // document under the issuer's path. Only the OpenID Connect name is served (the fallback).
  const wellKnown = discovery.exec(url.pathname);
  if (wellKnown) {
    if (wellKnown[1] !== 'openid-configuration' || url.pathname !== `/.well-known/openid-configuration${issuerPath}`) {
      return json(res, 404, { error: 'not_found' });
    }
    req.url = `${issuerPath}/.well-known/openid-configuration`;
    if (Object.keys(metadataOverride).length > 0) {
      const chunks = [];
      const end = res.end.bind(res);
      res.write = (c) => { chunks.push(Buffer.from(c)); return true; };
      res.end = (c) => {
        if (c) chunks.push(Buffer.from(c));
        const doc = { ...JSON.parse(Buffer.concat(chunks).toString('utf8')), ...metadataOverride };
        const body = JSON.stringify(doc);
        res.setHeader('Content-Length', Buffer.byteLength(body));
        return end(body);
      };
    }
  }
  return callback(req, res);
});

process.stdout.write(`${JSON.stringify({ port: server.address().port, ca: tls.ca })}\n`);
console.log = console.info = console.error;
process.stdout.on('error', () => {});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const stdin = fs.fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
